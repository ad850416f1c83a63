"""The Command: what it accepts, what it rejects, and how its scales are kept safe."""

import math

import pytest
from pydantic import ValidationError

from agent.command import DEFAULT_LIMITS, Command, ScaleLimits


@pytest.mark.parametrize(
    ("given", "expected"),
    [(40.0, 15.0), (0.2, 1.0), (7.5, 7.5), (15.0, 15.0), (1.0, 1.0)],
)
def test_text_scale_is_clamped_to_its_safe_range(given, expected):
    assert Command(action="edit", instruction="x", text_scale=given).text_scale == expected


@pytest.mark.parametrize(
    ("given", "expected"), [(0.0, 0.5), (0.3, 0.5), (1.5, 1.5), (9.0, 3.0), (3.0, 3.0)]
)
def test_image_scale_is_clamped_to_its_safe_range(given, expected):
    assert Command(action="edit", instruction="x", image_scale=given).image_scale == expected


def test_missing_scales_mean_the_models_defaults():
    command = Command(action="edit", instruction="make it winter")
    assert command.text_scale is None and command.image_scale is None


def test_clamping_follows_configured_limits():
    wide = ScaleLimits(text_scale=(0.0, 30.0), image_scale=(0.0, 5.0))
    command = Command.clamped(wide, action="edit", instruction="x", text_scale=25, image_scale=4)
    assert (command.text_scale, command.image_scale) == (25, 4)
    narrow = ScaleLimits(text_scale=(5.0, 8.0), image_scale=(1.0, 2.0))
    command = Command.clamped(narrow, action="edit", instruction="x", text_scale=25, image_scale=0)
    assert (command.text_scale, command.image_scale) == (8.0, 1.0)


def test_checked_rejects_out_of_range_scales_and_says_the_range():
    with pytest.raises(ValidationError, match="40 is outside the safe range 1–15"):
        Command.checked({"action": "edit", "instruction": "x", "text_scale": 40})
    with pytest.raises(ValidationError, match="0.1 is outside the safe range 0.5–3"):
        Command.checked({"action": "edit", "instruction": "x", "image_scale": 0.1})


def test_checked_accepts_scales_inside_the_range():
    command = Command.checked(
        {"action": "edit", "instruction": "x", "text_scale": 9, "image_scale": 2}
    )
    assert (command.text_scale, command.image_scale) == (9, 2)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_scales_are_rejected(value):
    with pytest.raises(ValidationError):
        Command(action="edit", instruction="x", text_scale=value)


@pytest.mark.parametrize("action", ["edit", "refine", "again", "options"])
def test_actions_that_run_the_editor_need_an_instruction(action):
    with pytest.raises(ValidationError, match=f"'{action}' command needs an instruction"):
        Command(action=action, instruction="   ")


def test_revert_needs_a_target_step():
    with pytest.raises(ValidationError, match="needs a target step"):
        Command(action="revert")
    assert Command(action="revert", target=3).target == 3


def test_negative_target_is_rejected():
    with pytest.raises(ValidationError):
        Command(action="revert", target=-1)


@pytest.mark.parametrize("action", ["undo", "redo", "reset", "help"])
def test_navigation_and_help_need_nothing_else(action):
    assert Command(action=action).instruction == ""


def test_unknown_action_scope_or_field_is_rejected():
    with pytest.raises(ValidationError):
        Command(action="paint", instruction="x")
    with pytest.raises(ValidationError):
        Command(action="edit", instruction="x", scope="everywhere")
    with pytest.raises(ValidationError):
        Command(action="edit", instruction="x", seed=3)


def test_instruction_and_rationale_are_stripped():
    command = Command(action="edit", instruction="  make it winter \n", rationale=" why ")
    assert (command.instruction, command.rationale) == ("make it winter", "why")


def test_a_command_round_trips_through_json():
    command = Command(
        action="edit", instruction="add a hat", text_scale=7.5, image_scale=2.0, scope="local",
        rationale="A local edit.", fallback_reason="The VLM's answer was unusable.",
    )  # fmt: skip
    assert Command.model_validate_json(command.model_dump_json()) == command


def test_inverted_or_negative_limits_are_refused():
    with pytest.raises(ValueError, match="low <= high"):
        ScaleLimits(text_scale=(10.0, 2.0))
    with pytest.raises(ValueError, match="low <= high"):
        ScaleLimits(image_scale=(-1.0, 2.0))
    assert DEFAULT_LIMITS == ScaleLimits(text_scale=(1.0, 15.0), image_scale=(0.5, 3.0))
