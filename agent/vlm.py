"""The VLM interpreter: a vision-language model reads the chat turn next to the current image.

Any transformers image-text-to-text checkpoint works (a small Qwen2.5-VL or SmolVLM instruct
model is a good start). The prompt carries the image, the last few turns and the JSON shape to
answer with, so the model can resolve references ("make *it* bigger") into an explicit
instruction. Decoding is constrained by xgrammar to `answer_schema`: every token the model may
pick keeps the answer on the way to a valid command, with scales inside the safe ranges, so
even an untrained model answers with one. An answer that is still unusable (cut off by
`max_new_tokens`, or from an interpreter built without the grammar) is never used: the rule
interpreter answers instead and the reason is recorded on the command as `fallback_reason`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import torch
import xgrammar
import xgrammar.contrib.hf
from PIL import Image
from pydantic import ValidationError
from transformers import AutoModelForImageTextToText, AutoProcessor

from .command import DEFAULT_LIMITS, Command, ScaleDefaults, ScaleLimits, Turn
from .errors import InterpreterError
from .rules import CLARIFY_CHOICES, EDIT_KINDS, RuleInterpreter, message_problem

HISTORY_TURNS = 4  # earlier turns shown to the model
MAX_TEXT_CHARS = 120  # the longest instruction or rationale an answer may hold
# Room for the longest answer the schema allows (two texts, keys, numbers): at least one
# character a token, so a model that never stops by itself still closes its JSON.
MAX_NEW_TOKENS = 2 * MAX_TEXT_CHARS + 200
ANSWER_FIELDS = (
    "action",
    "instruction",
    "text_scale",
    "image_scale",
    "target",
    "undo_first",
    "scope",
    "rationale",
)

PROMPT = """\
You control an image editor that applies one written instruction to the image shown.
Turn the person's message into a command. Answer with one JSON object and nothing else, shaped:
{{"action": "edit", "instruction": "make it a snowy winter scene", "text_scale": {text_default}, \
"image_scale": {image_default}, "target": null, "undo_first": false, "scope": "global", \
"rationale": "one short sentence"}}
- action: edit (a new change), refine (the last instruction again with other scales), again \
(the same instruction and scales with a new seed), undo, redo, revert (go to step "target"), \
reset (back to the original), options (a grid of versions to pick from), help, or clarify \
(the message could be an edit or a navigation, or names no clear change: the rationale is \
one short question back).
- instruction: what the editor is told, as a command; replace words like "it" or "that" with \
what they mean in the earlier turns. Empty for undo, redo, revert, reset and help.
- text_scale: how big the change is, {text_low:g} to {text_high:g}; this model's default is \
{text_default}.
- image_scale: how closely to keep the current image, {image_low:g} to {image_high:g}; \
this model's default is {image_default}; {image_hints}.
- target: the step number to revert to (0 is the original), otherwise null; an edit with a \
target starts from that step ("go back to step 2 and add a hat").
- undo_first: true for an edit of the image shown before this one ("undo that and add a hat").
- scope: "global" for a change of the whole picture, "local" for a change of one part,
  "background" for a new background that keeps what stands on it.
Earlier turns, oldest first:
{history}
Message: {message}"""


def answer_schema(limits: ScaleLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The JSON schema decoding is held to: one of three shapes, each a valid `Command`."""
    text = {"type": "string", "pattern": rf'^[^"\\\x00-\x1f]{{0,{MAX_TEXT_CHARS}}}$'}
    instruction = {  # starts with a letter: never empty or blank
        "type": "string", "pattern": rf'^[A-Za-z][^"\\\x00-\x1f]{{0,{MAX_TEXT_CHARS - 1}}}$'
    }
    step = {"type": "integer", "minimum": 0, "maximum": 9999}

    def shape(action: dict[str, Any], **fields: dict[str, Any]) -> dict[str, Any]:
        properties = {"action": action, **fields, "rationale": text}
        return {"type": "object", "properties": properties, "required": list(properties),
                "additionalProperties": False}

    return {"anyOf": [
        shape({"enum": ["edit", "refine", "again", "options"]}, instruction=instruction,
              text_scale={"type": "number", "minimum": limits.text_scale[0],
                          "maximum": limits.text_scale[1]},
              image_scale={"type": "number", "minimum": limits.image_scale[0],
                           "maximum": limits.image_scale[1]},
              target={"anyOf": [step, {"type": "null"}]},
              undo_first={"type": "boolean"},
              scope={"enum": ["global", "local", "background"]}),
        shape({"const": "revert"}, target=step),
        shape({"enum": ["undo", "redo", "reset", "help", "clarify"]}),
    ]}  # fmt: skip


def answer_grammar(
    tokenizer: Any, vocab_size: int, limits: ScaleLimits = DEFAULT_LIMITS
) -> xgrammar.CompiledGrammar:
    """`answer_schema` compiled for a model's tokenizer and output size, written the way the
    prompt's example is ({"key": value, ...}, no other white space)."""
    info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
    return xgrammar.GrammarCompiler(info).compile_json_schema(
        json.dumps(answer_schema(limits)), any_whitespace=False
    )


class InvalidAnswer(ValueError):
    """Why a model's answer cannot become a command."""


def _first_json_object(answer: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for brace in re.finditer(r"\{", answer):
        try:
            value, _ = decoder.raw_decode(answer, brace.start())
        except (json.JSONDecodeError, RecursionError):  # not JSON, or nested past Python's stack
            continue
        if isinstance(value, dict):
            return value
    return None


def parse_answer(answer: str, limits: ScaleLimits = DEFAULT_LIMITS) -> Command:
    """The command in a model's answer: the first JSON object in it, keys other than the
    command's ignored; raises InvalidAnswer saying what is wrong."""
    if not answer.strip():
        raise InvalidAnswer("it was empty")
    data = _first_json_object(answer)
    if data is None:
        raise InvalidAnswer("it holds no JSON object")
    fields = {key: data[key] for key in ANSWER_FIELDS if key in data}
    for key in ("text_scale", "image_scale"):  # as people write them: at most two decimals
        if isinstance(fields.get(key), float):
            fields[key] = round(fields[key], 2)
    try:
        return Command.checked(fields, limits)
    except ValidationError as error:
        problem = error.errors()[0]
        message = problem["msg"].removeprefix("Value error, ")
        field = ".".join(str(part) for part in problem["loc"])
        raise InvalidAnswer(f"{field}: {message}" if field else message) from error


def _describe(turn: Turn) -> str:
    command = turn.command
    said = json.dumps(turn.text[:200], ensure_ascii=False)
    if not command.instruction:
        return f"{said} → {command.action}"
    scales = "".join(
        f", {name} {value:g}"
        for name, value in (
            ("text_scale", command.text_scale),
            ("image_scale", command.image_scale),
        )
        if value is not None
    )
    return (
        f"{said} → {command.action} {json.dumps(command.instruction, ensure_ascii=False)}{scales}"
    )


def build_prompt(
    text: str, history: Sequence[Turn], defaults: ScaleDefaults, limits: ScaleLimits
) -> str:
    """The text the model reads after the image."""
    image_hints = ", ".join(
        f"about {defaults.image_scale + kind.image_step:g} for {kind.name}" for kind in EDIT_KINDS
    )
    recent = history[-HISTORY_TURNS:]
    return PROMPT.format(
        text_default=f"{defaults.text_scale:g}",
        image_default=f"{defaults.image_scale:g}",
        text_low=limits.text_scale[0],
        text_high=limits.text_scale[1],
        image_low=limits.image_scale[0],
        image_high=limits.image_scale[1],
        image_hints=image_hints,
        history="\n".join(f"{i}. {_describe(turn)}" for i, turn in enumerate(recent, 1))
        or "(none)",
        message=json.dumps(text, ensure_ascii=False),
    )


class VLMInterpreter:
    """Interprets chat turns with a vision-language model, falling back to the rules."""

    looks_at_image = True

    def __init__(
        self,
        model: Any,
        processor: Any,
        defaults: ScaleDefaults,
        limits: ScaleLimits = DEFAULT_LIMITS,
        grammar: xgrammar.CompiledGrammar | None = None,
        max_new_tokens: int = MAX_NEW_TOKENS,
    ) -> None:
        """`grammar` (see `answer_grammar`) constrains decoding; None lets the model write
        anything, and `parse_answer` sorts it out."""
        self.model = model
        self.processor = processor
        self.defaults = defaults
        self.limits = limits
        self.grammar = grammar
        self.max_new_tokens = max_new_tokens
        self.fallback = RuleInterpreter(defaults, limits)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        defaults: ScaleDefaults,
        limits: ScaleLimits = DEFAULT_LIMITS,
        device: str | None = None,
        dtype: torch.dtype | None = None,
    ) -> VLMInterpreter:
        """Loads a checkpoint by hub id or folder; a GPU and bfloat16 when there is one."""
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or (torch.bfloat16 if device.startswith("cuda") else torch.float32)
        try:
            processor = AutoProcessor.from_pretrained(name_or_path)
            model = AutoModelForImageTextToText.from_pretrained(name_or_path, dtype=dtype)
        except (OSError, ValueError) as error:
            raise InterpreterError(
                f"No image-text-to-text model could be loaded from '{name_or_path}'; give the "
                "hub id or local folder of a transformers vision-language checkpoint."
            ) from error
        # Every model that generates text has output embeddings.
        vocab_size = model.get_output_embeddings().weight.shape[0]  # pyright: ignore[reportOptionalMemberAccess]
        grammar = answer_grammar(processor.tokenizer, vocab_size, limits)
        model = model.to(device)  # pyright: ignore[reportArgumentType] (transformers' overloads)
        return cls(model.eval(), processor, defaults, limits, grammar)

    def interpret(
        self, text: str, image: Image.Image | None = None, history: Sequence[Turn] = ()
    ) -> Command:
        """The model's command for `text`, or the rules' with `fallback_reason` set."""
        if message_problem(text):  # nothing a model could read: the rules' reply says why
            return self.fallback.interpret(text, image, history)
        try:
            command = parse_answer(self.answer(text, image, history), self.limits)
        except InvalidAnswer as error:
            command = self.fallback.interpret(text, image, history)
            return command.model_copy(update={"fallback_reason": str(error)})
        if command.action == "clarify":  # the model asks the question; the answers are ours
            command = command.model_copy(update={"choices": CLARIFY_CHOICES})
        if not self.defaults.image_guidance:  # the editor has no s_I to set
            command = command.model_copy(update={"image_scale": None})
        return command

    def answer(self, text: str, image: Image.Image | None, history: Sequence[Turn]) -> str:
        """The model's raw answer to the prompt, greedy-decoded within the grammar."""
        prompt = build_prompt(text, history, self.defaults, self.limits)
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        if image is not None:
            content.insert(0, {"type": "image", "image": image})
        inputs = self.processor.apply_chat_template(
            [{"role": "user", "content": content}],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        ).to(self.model.device, dtype=self.model.dtype)
        # A grammar's logits processor follows one answer, so each answer gets its own.
        constraint = [] if self.grammar is None else \
            [xgrammar.contrib.hf.LogitsProcessor(self.grammar)]
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                logits_processor=constraint,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0]
