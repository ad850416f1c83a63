"""The `Interpreter` protocol every interpreter follows, and `load_interpreter` to pick one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from .command import DEFAULT_LIMITS, Command, ScaleDefaults, ScaleLimits, Turn
from .errors import InterpreterError
from .rules import RuleInterpreter


class Interpreter(Protocol):
    """Turns one chat turn into a validated `Command`."""

    looks_at_image: bool  # False: callers may pass image=None and skip decoding it

    def interpret(
        self, text: str, image: Image.Image | None = None, history: Sequence[Turn] = ()
    ) -> Command:
        """`image` is the current image (None when there is none), `history` the earlier turns,
        oldest first."""
        ...


def load_interpreter(
    spec: str,
    defaults: ScaleDefaults,
    limits: ScaleLimits = DEFAULT_LIMITS,
    device: str | None = None,
) -> Interpreter:
    """The interpreter named by `spec`: "rules", or "vlm:<hub id or folder>"; `defaults` are the
    editor model's recommended scales, which suggestions are relative to."""
    if spec == "rules":
        return RuleInterpreter(defaults, limits)
    kind, _, name = spec.partition(":")
    if kind == "vlm" and name.strip():
        try:  # imported here so that the rules do not pay for loading torch and transformers
            from .vlm import VLMInterpreter
        except ImportError as error:  # pixchat was installed without its [vlm] extra
            raise InterpreterError(
                f"The VLM interpreter needs {error.name}, which is not installed; install it "
                "with pip install 'pixchat[vlm]'."
            ) from None

        return VLMInterpreter.from_pretrained(name.strip(), defaults, limits, device=device)
    raise InterpreterError(
        f"Unknown interpreter '{spec}'; use 'rules' or 'vlm:<model id or folder>'."
    )
