"""Image editors behind one `Editor` protocol; `load_editor` is the usual way in.

torch, diffusers and huggingface_hub load only when an editor or a model's settings are
first needed, so commands that merely read images or sessions start quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import DEFAULT_SCHEDULER, SCHEDULERS, Editor, EditRequest, EditResult, ModelDefaults
from .errors import Cancelled, EditorError, ModelNotFound
from .grid import GridResult
from .resolution import resize_to, working_size
from .threads import use_threads_per_edit

if TYPE_CHECKING:
    from .models import KNOWN_MODELS
    from .pix2pix import Pix2PixEditor

__all__ = [
    "DEFAULT_SCHEDULER",
    "KNOWN_MODELS",
    "SCHEDULERS",
    "Cancelled",
    "EditRequest",
    "EditResult",
    "Editor",
    "EditorError",
    "GridResult",
    "ModelDefaults",
    "ModelNotFound",
    "Pix2PixEditor",
    "load_editor",
    "resize_to",
    "working_size",
]


def load_editor(name: str = "demo", device=None, dtype=None, offload: str | None = None
                ) -> Editor:
    """The editor for a model name (`ip2p`, `magicbrush`, `kontext`, `qwen-edit`,
    `sam-inpaint`, `demo`), local folder or hub id; its model_index.json's pipeline decides
    which editor runs it, and an inpainting folder with `detector/` and `segmenter/` is
    grounded (`editor.grounding`).

    `device` and `dtype` (torch's, or their names) default to CUDA when present (float16 for
    InstructPix2Pix, bfloat16 for Kontext and Qwen), else CPU float32. `offload` ("model" or
    "sequential") keeps a single-guidance model's weights on the CPU between uses, for GPUs
    too small to hold it. torch gets `threads.threads_per_edit()` CPU threads.
    """
    from .models import PIX2PIX, locate_model
    from .pix2pix import Pix2PixEditor

    use_threads_per_edit()

    source = locate_model(name)
    if source.pipeline == PIX2PIX:
        return Pix2PixEditor.from_pretrained(name, device=device, dtype=dtype)
    from .grounding import GroundedInpaintEditor
    from .single_guidance import InpaintEditor, KontextEditor, QwenEditEditor

    editor_class = {
        "FluxKontextPipeline": KontextEditor,
        "QwenImageEditPlusPipeline": QwenEditEditor,
        "StableDiffusionInpaintPipeline": GroundedInpaintEditor if source.parts else InpaintEditor,
    }[source.pipeline]
    return editor_class.from_pretrained(source, device=device, dtype=dtype, offload=offload)


def __getattr__(name: str):
    if name == "Pix2PixEditor":
        from .pix2pix import Pix2PixEditor

        return Pix2PixEditor
    if name == "KNOWN_MODELS":
        from .models import KNOWN_MODELS

        return KNOWN_MODELS
    raise AttributeError(f"module 'editor' has no attribute {name!r}")
