"""What every editor takes and gives back: `EditRequest`, `EditResult`, the `Editor` protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from PIL import Image

if TYPE_CHECKING:
    from .grid import GridResult  # grid.py imports this module

SCHEDULERS = ("euler_ancestral", "dpmpp_2m", "euler")  # Euler ancestral is InstructPix2Pix's own
DEFAULT_SCHEDULER = SCHEDULERS[0]

StepCallback = Callable[[int, int], bool | None]
"""Called as `on_step(step, total)` after each denoising step; returning False cancels."""


@dataclass(frozen=True)
class ModelDefaults:
    """A model's recommended settings, used wherever a request leaves a value as None."""

    text_scale: float  # s_T: how strongly to follow the instruction
    image_scale: float  # s_I: how strongly to stay close to the input image
    steps: int
    size: int  # working size: the long side of the image the model edits, in pixels
    scheduler: str = DEFAULT_SCHEDULER  # the sampler the model was tuned with
    # False: the model has one guidance scale, s_T (FLUX.1 Kontext, Qwen-Image-Edit), and no
    # s_I; `image_scale` is then unused, and the agent and the app offer s_T alone.
    image_guidance: bool = True
    # True: beside each edit the model also renders the picture with no edit (s_T = 0, the
    # same s_I and noise), and the full-size composite maps from that rendering instead of the
    # VAE's round trip, so the model's own colour errors, shared by both, cancel. It costs
    # about one more edit's sampling.
    render_unedited: bool = False
    # True: every edit the model makes is a change of colour and light (it draws nothing new:
    # the photo model's whole repertoire), so the full-size composite carries the result
    # through its local colour models alone. Where they do not explain the result, that is
    # the model's error, not new structure, and the enlarged working-size result would only
    # blur the photo.
    colour_only: bool = False


@dataclass
class EditRequest:
    """One edit: apply `instruction` to `image`; None means "the model's default"."""

    image: Image.Image  # RGB
    instruction: str
    text_scale: float | None = None
    image_scale: float | None = None
    steps: int | None = None
    seed: int | None = None  # None: a random seed is chosen and returned in the result
    scheduler: str | None = None  # one of SCHEDULERS
    on_step: StepCallback | None = None
    # A local edit: only where the instruction acts may change (the rest is held to the input
    # while sampling and kept exactly when composed). False lets the whole picture change.
    confine: bool = False
    region: Image.Image | None = None  # the person's mask, white = may change; implies confine

    def scales(self, defaults: ModelDefaults) -> tuple[float, float]:
        """(s_T, s_I): the request's own, the model's `defaults` where it leaves them unset
        (0 is a real value)."""
        return (defaults.text_scale if self.text_scale is None else self.text_scale,
                defaults.image_scale if self.image_scale is None else self.image_scale)


@dataclass
class EditResult:
    """The edited image at working size, with everything needed to reproduce it and to bring
    it to the input's own size (`editor.compose`)."""

    image: Image.Image
    seen: Image.Image  # the input as the model reproduces it at working size (the VAE round
    # trip, or the model's own no-edit rendering: `ModelDefaults.render_unedited`)
    mask: Image.Image  # "L" at working size: white where the edit may change the picture
    model_id: str
    revision: str | None
    scheduler: str
    steps: int
    seed: int
    text_scale: float
    image_scale: float | None  # None: the model has no image guidance
    width: int  # processing (working) size
    height: int
    device: str
    dtype: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase and "total"
    # Where the editor itself confined the edit, at the input's size (white = may change): a
    # grounded editor's object mask. `editor.compose` holds to it as to a person's region.
    region: Image.Image | None = None
    colour_only: bool = False  # the model draws nothing new (`ModelDefaults.colour_only`)


class Editor(Protocol):
    """Anything that edits an image from an instruction."""

    defaults: ModelDefaults

    @property
    def model_id(self) -> str:
        """What results record: a short name ("demo"), a hub id or a folder."""
        ...

    @property
    def device(self) -> object:
        """Where edits run; `str()` names it, e.g. "cpu" or "cuda:0"."""
        ...

    def edit(self, request: EditRequest) -> EditResult: ...

    def grid(
        self,
        request: EditRequest,
        text_scales: Sequence[float] | None = None,
        image_scales: Sequence[float] | None = None,
    ) -> GridResult:
        """The request at every (s_T, s_I) pair, rows s_T and columns s_I, with a sheet."""
        ...
