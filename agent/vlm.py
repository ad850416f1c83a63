"""The VLM interpreter: a vision-language model reads the chat turn next to the current image.

Any transformers image-text-to-text checkpoint works (a small Qwen2.5-VL or SmolVLM instruct
model is a good start). The prompt carries the image, the last few turns and the JSON shape to
answer with, so the model can resolve references ("make *it* bigger") into an explicit
instruction. An answer that is empty, not JSON, of the wrong shape or with a scale outside the
safe ranges is never used: the rule interpreter answers instead and the reason is recorded on
the command as `fallback_reason`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from pydantic import ValidationError
from transformers import AutoModelForImageTextToText, AutoProcessor

from .command import DEFAULT_LIMITS, Command, ScaleDefaults, ScaleLimits, Turn
from .errors import InterpreterError
from .rules import EDIT_KINDS, RuleInterpreter, message_problem

HISTORY_TURNS = 4  # earlier turns shown to the model
ANSWER_FIELDS = (
    "action",
    "instruction",
    "text_scale",
    "image_scale",
    "target",
    "scope",
    "rationale",
)

PROMPT = """\
You control an image editor that applies one written instruction to the image shown.
Turn the person's message into a command. Answer with one JSON object and nothing else, shaped:
{{"action": "edit", "instruction": "make it a snowy winter scene", "text_scale": {text_default}, \
"image_scale": {image_default}, "target": null, "scope": "global", \
"rationale": "one short sentence"}}
- action: edit (a new change), refine (the last instruction again with other scales), again \
(the same instruction and scales with a new seed), undo, redo, revert (go to step "target"), \
reset (back to the original), options (a grid of versions to pick from) or help.
- instruction: what the editor is told, as a command; replace words like "it" or "that" with \
what they mean in the earlier turns. Empty for undo, redo, revert, reset and help.
- text_scale: how big the change is, {text_low:g} to {text_high:g}; this model's default is \
{text_default}.
- image_scale: how closely to keep the current image, {image_low:g} to {image_high:g}; \
this model's default is {image_default}; {image_hints}.
- target: the step number to revert to (0 is the original), otherwise null.
- scope: "global" for a change of the whole picture, "local" for a change of one part,
  "background" for a new background that keeps what stands on it.
Earlier turns, oldest first:
{history}
Message: {message}"""


class InvalidAnswer(ValueError):
    """Why a model's answer cannot become a command."""


def _first_json_object(answer: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for brace in re.finditer(r"\{", answer):
        try:
            value, _ = decoder.raw_decode(answer, brace.start())
        except json.JSONDecodeError:
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
    try:
        return Command.checked({key: data[key] for key in ANSWER_FIELDS if key in data}, limits)
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
        max_new_tokens: int = 160,
    ) -> None:
        self.model = model
        self.processor = processor
        self.defaults = defaults
        self.limits = limits
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
        model = model.to(device)  # pyright: ignore[reportArgumentType] (transformers' overloads)
        return cls(model.eval(), processor, defaults, limits)

    def interpret(
        self, text: str, image: Image.Image | None = None, history: Sequence[Turn] = ()
    ) -> Command:
        """The model's command for `text`, or the rules' with `fallback_reason` set."""
        if message_problem(text):  # nothing a model could read: the rules' reply says why
            return self.fallback.interpret(text, image, history)
        try:
            return parse_answer(self.answer(text, image, history), self.limits)
        except InvalidAnswer as error:
            command = self.fallback.interpret(text, image, history)
            return command.model_copy(update={"fallback_reason": str(error)})

    def answer(self, text: str, image: Image.Image | None, history: Sequence[Turn]) -> str:
        """The model's raw answer to the prompt, greedy-decoded."""
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
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0]
