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


def load_editor(name: str = "demo", device=None, dtype=None) -> Pix2PixEditor:
    """The editor for a model name (`ip2p`, `magicbrush`, `demo`), local folder or hub id.

    `device` and `dtype` (torch's, or their names) default to CUDA float16 when present,
    else CPU float32. torch gets `threads.threads_per_edit()` CPU threads.
    """
    from .pix2pix import Pix2PixEditor

    use_threads_per_edit()

    return Pix2PixEditor.from_pretrained(name, device=device, dtype=dtype)


def __getattr__(name: str):
    if name == "Pix2PixEditor":
        from .pix2pix import Pix2PixEditor

        return Pix2PixEditor
    if name == "KNOWN_MODELS":
        from .models import KNOWN_MODELS

        return KNOWN_MODELS
    raise AttributeError(f"module 'editor' has no attribute {name!r}")
