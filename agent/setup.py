"""Opening what a conversation needs: the editor model, the interpreter, the store.

The command line and the app both start here, so both fall back the same way: a model
that cannot be found is replaced by the embedded demo model, and `warn` is told why. The
embedded `demo` is the pair of embedded models (`editor.embedded`): shapes for a sample
scene, photos for a photograph.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PIL import Image

from editor import Editor, EditorError, ModelDefaults, ModelNotFound, load_editor
from editor.images import load_image, to_png_bytes
from memory import SessionStore

if TYPE_CHECKING:
    from editor.grounding import GroundedInpaintEditor

    from .interpret import Interpreter
    from .turn import Agent

Warn = Callable[[str], None]
Loaded = TypeVar("Loaded")


def open_editor(model: str, warn: Warn, device: str | None = None, url: str | None = None
                ) -> Editor:
    """The named editor model, or the embedded demo models (after telling `warn`) if it is
    missing; `demo` itself picks the shapes or the photo model for each image. With `url`,
    the editor is the deployment there (`editor/serve.py`), whose model is its own.

    `PIXCHAT_OFFLOAD` ("model" or "sequential") keeps a large model's weights on the CPU
    between uses (`editor.load_editor`)."""
    if url:
        from editor.remote import RemoteEditor

        editor = RemoteEditor(url)
        if model not in ("demo", editor.model_id):
            warn(f"The editor service at {url} runs '{editor.model_id}'; "
                 f"--model {model} applies to in-process editing only.")
        return editor

    from editor.embedded import open_model  # numpy loads only where an edit is coming

    offload = os.environ.get("PIXCHAT_OFFLOAD")
    return _or_demo(lambda name: open_model(name, device, offload), model, warn)


def open_objects(name: str | None, warn: Warn) -> GroundedInpaintEditor | None:
    """The grounded model (`sam-inpaint` or a folder, see `editor.grounding`) that repaints
    named objects, or None: when none is asked for, or (after telling `warn`) when its weights
    are missing, every edit goes to the editor."""
    if not name:
        return None
    from editor.grounding import GroundedInpaintEditor

    try:
        objects = load_editor(name, offload=os.environ.get("PIXCHAT_OFFLOAD"))
    except ModelNotFound as error:
        warn(f"{error} Objects are edited by the usual editor instead.")
        return None
    if not isinstance(objects, GroundedInpaintEditor):
        raise EditorError(f"'{name}' is not a grounded model; --objects takes sam-inpaint or an "
                          "inpainting folder with detector/ and segmenter/ beside it.")
    return objects


def open_interpreter(spec: str, model: str, warn: Warn) -> Interpreter:
    """The interpreter `spec` ("rules" or "vlm:<id>"), suggesting scales for editor `model`.

    Only the model's settings are read, not its weights.
    """
    from editor.models import model_defaults  # huggingface_hub loads only here

    from .interpret import load_interpreter  # pydantic too

    defaults: ModelDefaults = _or_demo(model_defaults, model, warn)
    return load_interpreter(spec, defaults)


def _or_demo(load: Callable[[str], Loaded], model: str, warn: Warn) -> Loaded:
    """`load(model)`; when that model cannot be found, `load("demo")` after telling `warn`."""
    try:
        return load(model)
    except ModelNotFound as error:
        if model == "demo":
            raise
        try:
            loaded = load("demo")
        except ModelNotFound:
            raise error from None  # the person should hear about their own model
        warn(f"{error} Using the embedded demo model instead.")
        return loaded


def read_upload(upload: str | Path | bytes) -> bytes:
    """An uploaded image (a path or the file's bytes), checked and decoded, as the PNG a new
    session starts from; raises `ImageError` before anything is stored."""
    return to_png_bytes(load_image(upload))


def read_region(upload: str | Path | bytes, size: tuple[int, int]) -> Image.Image:
    """A mask the person drew (white = may change) for an image of `size`, checked; raises
    `ImageError` or `EditorError` with one sentence before anything is edited."""
    from editor.masks import fit_region  # torch loads only where an edit is coming

    return fit_region(load_image(upload), size)


def open_agent(
    store: SessionStore,
    model: str,
    interpreter: str,
    *,
    owner: str,
    warn: Warn,
    steps: int | None = None,
    seed: int | None = None,
    objects: str | None = None,
    editor_url: str | None = None,
) -> Agent:
    """An `Agent` over `store`, editing with `model` (on the editor service at `editor_url`
    when given), interpreting with `interpreter`, and replacing or removing named objects
    with the grounded model `objects` (if any)."""
    from .interpret import load_interpreter
    from .turn import Agent  # LangGraph and pydantic load only when a turn is about to run

    editor = open_editor(model, warn, url=editor_url)
    return Agent(
        store=store,
        editor=editor,
        interpreter=load_interpreter(interpreter, editor.defaults),
        objects=open_objects(objects, warn),
        owner=owner,
        steps=steps,
        seed=seed,
    )
