"""The `Command` a chat turn becomes, the safe ranges of its two scales, and a past `Turn`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

Action = Literal[
    "edit", "refine", "again", "undo", "redo", "revert", "reset", "options", "help", "clarify"
]
Scope = Literal["global", "local", "background"]

ACTIONS_WITH_INSTRUCTION = ("edit", "refine", "again", "options")


class ScaleDefaults(Protocol):
    """An editor model's recommended scales (`editor.ModelDefaults` is one)."""

    @property
    def text_scale(self) -> float: ...

    @property
    def image_scale(self) -> float: ...

    @property
    def image_guidance(self) -> bool:
        """False: the model has s_T alone; commands then leave s_I out (None)."""
        ...


@dataclass(frozen=True)
class ScaleLimits:
    """The safe range (low, high) of each scale; commands never leave it."""

    text_scale: tuple[float, float] = (1.0, 15.0)  # s_T
    image_scale: tuple[float, float] = (0.5, 3.0)  # s_I

    def __post_init__(self) -> None:
        for name in ("text_scale", "image_scale"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"the {name} range must be 0 <= low <= high, not {low}–{high}")


DEFAULT_LIMITS = ScaleLimits()


def clean_message(text: str) -> str:
    """`text` as it can be kept and shown anywhere: control characters other than new lines
    and tabs dropped, and bytes that were not UTF-8 (lone surrogates, as Python reads them
    from a command line) replaced by "\ufffd"."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "", text)
    return re.sub(r"[\ud800-\udfff]", "\ufffd", text)


class Command(BaseModel):
    """What one chat turn asks for, validated; scales of None mean the model's defaults.

    Build one with `Command.clamped(limits, ...)` to pull scales into `limits`, or with
    `Command.checked(data, limits)` to reject scales outside them. `Command(...)` clamps to
    `DEFAULT_LIMITS`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    action: Action
    instruction: str = ""  # what the editor is told; empty for navigation and help
    text_scale: float | None = None  # s_T: how big a change
    image_scale: float | None = None  # s_I: how close to the current image
    target: int | None = Field(default=None, ge=0)  # a step number; 0 is the original
    undo_first: bool = False  # an edit of the image shown before this one ("undo and ...")
    scope: Scope = "global"
    rationale: str = ""  # one line shown to the person
    fallback_reason: str | None = None  # why the VLM's answer was not used: "it was empty"
    choices: tuple[str, ...] = ()  # for 'clarify': what the person may answer, e.g. "undo"

    @field_validator("instruction", "rationale")
    @classmethod
    def _clean(cls, value: str) -> str:
        return clean_message(value).strip()

    @field_validator("text_scale", "image_scale")
    @classmethod
    def _within_limits(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        context = info.context or {}
        low, high = getattr(context.get("limits", DEFAULT_LIMITS), str(info.field_name))
        if context.get("reject_out_of_range") and not low <= value <= high:
            raise ValueError(f"{value:g} is outside the safe range {low:g}–{high:g}")
        return min(max(value, low), high)

    @model_validator(mode="after")
    def _has_what_the_action_needs(self) -> Command:
        if self.action in ACTIONS_WITH_INSTRUCTION and not self.instruction:
            raise ValueError(f"a '{self.action}' command needs an instruction")
        if self.action == "revert" and self.target is None:
            raise ValueError("a 'revert' command needs a target step")
        return self

    @classmethod
    def clamped(cls, limits: ScaleLimits = DEFAULT_LIMITS, **fields: Any) -> Command:
        """A command whose scales are pulled into `limits`."""
        return cls.model_validate(fields, context={"limits": limits})

    @classmethod
    def checked(cls, data: dict[str, Any], limits: ScaleLimits = DEFAULT_LIMITS) -> Command:
        """A command from untrusted data; raises pydantic's ValidationError if a scale is
        outside `limits` or anything else is wrong."""
        return cls.model_validate(data, context={"limits": limits, "reject_out_of_range": True})


def navigation(action: Action, step: int | None = None) -> Command:
    """The command for undo, redo, reset, or revert to `step`, with its one-line rationale;
    chat phrases and the app's buttons both make theirs here."""
    if action == "revert":
        return Command(action="revert", target=step, rationale=f"Going back to step {step}.")
    rationale = {
        "undo": "Going back one step.",
        "redo": "Going forward one step.",
        "reset": "Going back to the original image.",
    }[action]
    return Command(action=action, rationale=rationale)


@dataclass(frozen=True)
class Turn:
    """One earlier chat turn: what the person said and the command it became."""

    text: str
    command: Command
