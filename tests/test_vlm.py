"""The VLM interpreter: parsing good answers, falling back on bad ones, the answer grammar, and
a real (tiny, random) Idefics3 checkpoint run through its own processor, chat template and
`generate`: constrained by the grammar its untrained answers are valid commands, without it
they are garbage that takes the fallback path."""

import json
import sys
from dataclasses import dataclass

import pytest
import torch
import xgrammar
from PIL import Image
from tiny_models import build_tiny_vlm
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from agent.command import Command, ScaleLimits, Turn
from agent.errors import InterpreterError
from agent.interpret import load_interpreter
from agent.rules import RuleInterpreter
from agent.vlm import (
    HISTORY_TURNS,
    InvalidAnswer,
    VLMInterpreter,
    answer_grammar,
    build_prompt,
    parse_answer,
)


@dataclass(frozen=True)
class Defaults:
    text_scale: float = 7.5
    image_scale: float = 1.5
    image_guidance: bool = True


DEFAULTS = Defaults()
RULES = RuleInterpreter(DEFAULTS)
IMAGE = Image.new("RGB", (40, 30), (200, 30, 30))


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory) -> str:
    return str(build_tiny_vlm(tmp_path_factory.mktemp("vlm")))


# --- parsing answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        '{"action": "edit", "instruction": "make the red circle bigger", "text_scale": 8,'
        ' "image_scale": 2.0, "target": null, "scope": "local", "rationale": "A local edit."}',
        'Sure! ```json\n{"action": "edit", "instruction": "make the red circle bigger",'
        ' "text_scale": 8, "image_scale": 2, "scope": "local", "rationale": "A local edit."}\n```',
        '{"action": "edit", "instruction": "make the red circle bigger", "text_scale": 8,'
        ' "image_scale": 2, "scope": "local", "rationale": "A local edit.", "confidence": 0.9}',
    ],
    ids=["plain", "fenced-with-prose", "extra-keys"],
)
def test_a_good_answer_becomes_the_command_it_describes(answer):
    command = parse_answer(answer)
    assert command == Command(
        action="edit",
        instruction="make the red circle bigger",
        text_scale=8,
        image_scale=2,
        scope="local",
        rationale="A local edit.",
    )


def test_navigation_answers_are_parsed():
    assert parse_answer('{"action": "revert", "target": 2}') == Command(action="revert", target=2)
    assert parse_answer('{"action": "undo", "instruction": ""}').action == "undo"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "it was empty"),
        ("   \n", "it was empty"),
        ("I would make it snowy.", "no JSON object"),
        ('{"action": "edit", "instruction": ', "no JSON object"),
        ("[1, 2, 3]", "no JSON object"),
        ('{"foo": 1}', "action: Field required"),
        ('{"action": "paint", "instruction": "x"}', "action: Input should be"),
        ('{"action": "edit", "instruction": ""}', "'edit' command needs an instruction"),
        ('{"action": "edit", "instruction": "x", "text_scale": 40}', "text_scale: 40 is outside"),
        ('{"action": "edit", "instruction": "x", "image_scale": 0.1}', "image_scale: 0.1 is out"),
        ('{"action": "revert"}', "needs a target step"),
    ],
)
def test_a_bad_answer_is_refused_with_the_reason(answer, reason):
    with pytest.raises(InvalidAnswer, match=reason):
        parse_answer(answer)


def test_answers_are_checked_against_configured_limits():
    answer = '{"action": "edit", "instruction": "x", "text_scale": 20}'
    assert parse_answer(answer, ScaleLimits(text_scale=(1.0, 25.0))).text_scale == 20
    with pytest.raises(InvalidAnswer, match="outside the safe range 1–15"):
        parse_answer(answer)


# --- the prompt -------------------------------------------------------------------------------


def test_the_prompt_carries_the_message_recent_turns_ranges_and_defaults():
    history = [Turn(f"edit number {i}", RULES.interpret(f"add hat number {i}")) for i in range(6)]
    prompt = build_prompt("make it bigger", history, Defaults(text_scale=5.0), ScaleLimits())
    assert 'Message: "make it bigger"' in prompt
    shown = history[-HISTORY_TURNS:]
    assert all(f'"{turn.command.instruction}"' in prompt for turn in shown)
    assert "add hat number 0" not in prompt  # only the last few turns
    assert "1 to 15" in prompt and "0.5 to 3" in prompt
    assert "default is 5" in prompt
    assert '"action":' in prompt


def test_the_prompt_says_when_there_are_no_earlier_turns():
    assert "(none)" in build_prompt("make it winter", [], DEFAULTS, ScaleLimits())


# --- interpreting with a stubbed model answer -------------------------------------------------


class ScriptedVLM(VLMInterpreter):
    """The VLM interpreter with the model replaced by a fixed answer."""

    def __init__(self, answer: str) -> None:
        super().__init__(model=None, processor=None, defaults=DEFAULTS)
        self.scripted_answer = answer
        self.asked = 0

    def answer(self, text, image, history):
        self.asked += 1
        return self.scripted_answer


def test_a_valid_answer_is_used_as_is_and_can_resolve_references():
    history = [Turn("add a red ball", RULES.interpret("add a red ball"))]
    vlm = ScriptedVLM(
        '{"action": "edit", "instruction": "make the red ball bigger", "text_scale": 7.5,'
        ' "image_scale": 2.0, "scope": "local", "rationale": "Resolved it to the ball."}'
    )
    command = vlm.interpret("make it bigger", IMAGE, history)
    assert command.instruction == "make the red ball bigger"
    assert command.fallback_reason is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "it was empty"),
        ('{"instruction": "make it winter"}', "action: Field required"),
        ('{"action": "edit", "instruction": "make it winter", "text_scale": 99}', "99 is outside"),
    ],
)
def test_an_unusable_answer_falls_back_to_the_rules_with_the_reason(answer, reason):
    command = ScriptedVLM(answer).interpret("could you make it winter?", IMAGE, [])
    assert command.model_copy(update={"fallback_reason": None}) == RULES.interpret(
        "could you make it winter?"
    )
    assert reason in command.fallback_reason


@pytest.mark.parametrize("text", ["", "🙂", "x" * 20_000])
def test_messages_with_nothing_to_read_get_the_rules_reply_without_asking_the_model(text):
    vlm = ScriptedVLM('{"action": "help"}')
    command = vlm.interpret(text, IMAGE, [])
    assert command == RULES.interpret(text)
    assert vlm.asked == 0


# --- the answer grammar ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def grammar(tiny_vlm):
    tokenizer = AutoTokenizer.from_pretrained(tiny_vlm)
    return answer_grammar(tokenizer, len(tokenizer), ScaleLimits())


@pytest.mark.parametrize(
    ("answer", "allowed"),
    [
        ('{"action": "edit", "instruction": "add a hat", "text_scale": 7.5, "image_scale": 2, '
         '"target": null, "undo_first": true, "scope": "local", "rationale": "A local edit."}',
         True),
        ('{"action": "revert", "target": 2, "rationale": "Back to step 2."}', True),
        ('{"action": "clarify", "rationale": "Undo, or a new edit?"}', True),
        ('{"action": "edit", "instruction": "add a hat", "text_scale": 40, "image_scale": 2, '
         '"target": null, "undo_first": false, "scope": "local", "rationale": ""}', False),
        ('{"action": "edit", "instruction": "", "text_scale": 7.5, "image_scale": 2, '
         '"target": null, "undo_first": false, "scope": "local", "rationale": ""}', False),
        ('{"action": "revert", "target": null, "rationale": ""}', False),
        ('{"action": "paint", "rationale": ""}', False),
        ('{"action": "undo"}', False),
    ],
    ids=["edit", "revert", "clarify", "scale-out-of-range", "empty-instruction",
         "revert-without-step", "unknown-action", "missing-rationale"],
)
def test_the_grammar_admits_exactly_the_valid_commands(grammar, answer, allowed):
    matcher = xgrammar.GrammarMatcher(grammar)
    admitted = matcher.accept_string(answer) and matcher.is_completed()
    assert admitted is allowed
    if allowed:
        parse_answer(answer)  # what the grammar admits, the command accepts


# --- a real checkpoint -------------------------------------------------------------------------


def test_an_untrained_vlm_answers_with_a_valid_command_through_its_processor(tiny_vlm):
    interpreter = load_interpreter(f"vlm:{tiny_vlm}", DEFAULTS, device="cpu")
    assert isinstance(interpreter, VLMInterpreter)
    history = [Turn("make it winter", RULES.interpret("make it winter"))]
    for image in (IMAGE, None):  # with the image, and text only
        answer = interpreter.answer("add a hat", image, history)
        command = parse_answer(answer)  # random weights, and still a valid command
        assert json.loads(answer)["action"] == command.action
        assert interpreter.interpret("add a hat", image, history).fallback_reason is None
        for scale, (low, high) in ((command.text_scale, (1, 15)), (command.image_scale, (0.5, 3))):
            assert scale is None or (low <= scale <= high and scale == round(scale, 2))


def test_without_the_grammar_an_untrained_vlm_answers_garbage_and_the_rules_step_in(tiny_vlm):
    loaded = VLMInterpreter.from_pretrained(tiny_vlm, DEFAULTS, device="cpu")
    free = VLMInterpreter(loaded.model, loaded.processor, DEFAULTS, max_new_tokens=40)
    with pytest.raises(InvalidAnswer) as error:
        parse_answer(free.answer("add a hat", IMAGE, []))
    command = free.interpret("add a hat", IMAGE, [])
    assert command.model_copy(update={"fallback_reason": None}) == RULES.interpret("add a hat")
    assert command.fallback_reason == str(error.value)


def test_a_question_from_the_model_offers_the_usual_answers():
    vlm = ScriptedVLM('{"action": "clarify", "rationale": "Undo, or a new edit?"}')
    command = vlm.interpret("hmm", IMAGE, [])
    assert (command.rationale, command.choices) == ("Undo, or a new edit?",
                                                    ("undo", "again", "show me options"))


# --- choosing an interpreter -------------------------------------------------------------------


def test_rules_is_the_plain_interpreter():
    assert isinstance(load_interpreter("rules", DEFAULTS), RuleInterpreter)


@pytest.mark.parametrize("spec", ["gpt", "vlm:", "vlm:   ", "rule", ""])
def test_an_unknown_interpreter_name_says_which_ones_exist(spec):
    with pytest.raises(InterpreterError, match="use 'rules' or 'vlm:<model id or folder>'"):
        load_interpreter(spec, DEFAULTS)


def test_without_the_vlm_extra_the_vlm_interpreter_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "agent.vlm")
    with pytest.raises(InterpreterError) as error:
        load_interpreter("vlm:any-model", DEFAULTS)
    assert str(error.value) == ("The VLM interpreter needs xgrammar, which is not installed; "
                                "install it with pip install 'pixchat[vlm]'.")


def test_a_missing_vlm_says_what_to_give(tmp_path):
    for name in (str(tmp_path / "nowhere"), "someone/not-a-real-model-xyz"):
        with pytest.raises(InterpreterError, match=f"could be loaded from '{name}'") as error:
            load_interpreter(f"vlm:{name}", DEFAULTS)
        assert str(error.value).count(".") == 1  # one sentence


def test_a_checkpoint_that_is_not_a_vision_language_model_is_refused(tmp_path):
    config = LlamaConfig(
        vocab_size=32, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    with pytest.raises(InterpreterError, match="vision-language checkpoint"):
        load_interpreter(f"vlm:{tmp_path}", DEFAULTS)


def test_a_model_loaded_in_bfloat16_reads_the_image_and_answers(tiny_vlm):
    interpreter = VLMInterpreter.from_pretrained(
        tiny_vlm, DEFAULTS, device="cpu", dtype=torch.bfloat16
    )
    assert interpreter.model.dtype == torch.bfloat16
    assert interpreter.interpret("add a hat", IMAGE, []).fallback_reason is None
