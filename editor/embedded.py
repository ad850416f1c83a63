"""The embedded default editor: the shapes model for the shapes world's flat scenes, the
photo model for photographs, chosen per image by `embedded_model_for`.

Both models need no download. The app and the command line get this editor whenever they
are asked for `demo` (see `agent.setup.open_editor`), so a sample scene and an uploaded
photo each go to the model that learned their kind of picture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
from PIL import Image

from .base import Editor, EditRequest, EditResult
from .errors import ModelNotFound
from .grid import GridResult

if TYPE_CHECKING:
    from .pix2pix import Pix2PixEditor

FLAT_SHARE = 0.4  # a flat scene: at least this share of pixels equal their neighbours
LOOK_SIZE = 256  # images are looked at no larger than this (nearest neighbour keeps flats)


def embedded_model_for(image: Image.Image) -> str:
    """`demo` for a flat scene of the shapes world, else `demo-photo`.

    In a scene of flat shapes most pixels equal their right and lower neighbours exactly
    (0.61 to 0.95 for sample scenes, also enlarged 10x with Lanczos); in a photograph noise
    and texture leave few (0.00 to 0.17 for every photo scikit-image and scikit-learn ship).
    """
    small = image.convert("RGB")
    if max(small.size) > LOOK_SIZE:
        small = small.copy()
        small.thumbnail((LOOK_SIZE, LOOK_SIZE), Image.Resampling.NEAREST)
    pixels = np.asarray(small)
    same_right = (pixels[:-1, 1:] == pixels[:-1, :-1]).all(axis=-1)
    same_below = (pixels[1:, :-1] == pixels[:-1, :-1]).all(axis=-1)
    share = (same_right & same_below).mean() if same_right.size else 1.0
    return "demo" if share >= FLAT_SHARE else "demo-photo"


class EmbeddedEditor:
    """`demo` and `demo-photo` behind one editor: every request goes to the model for its
    image. The photo model loads on the first photo; without it, photos go to `demo`."""

    model_id = "demo"

    def __init__(self, load: Callable[[str], Pix2PixEditor]):
        self._load = load
        self._editors = {"demo": load("demo")}
        scenes = self._editors["demo"]
        # Both embedded models recommend the same scales and steps (their model cards say
        # why); each samples with its own scheduler (a request's None) at its own size.
        self.defaults = scenes.defaults
        self.device = scenes.device

    def for_image(self, image: Image.Image) -> Pix2PixEditor:
        """The embedded model that edits this kind of picture."""
        name = embedded_model_for(image)
        if name not in self._editors:
            try:
                self._editors[name] = self._load(name)
            except ModelNotFound:  # not shipped: the shapes model, and its honest replies
                self._editors[name] = self._editors["demo"]
        return self._editors[name]

    def repertoire_for(self, image: Image.Image) -> dict | None:
        """What the model for this image can do (its pixchat.json's repertoire)."""
        return self.for_image(image).repertoire

    def edit(self, request: EditRequest) -> EditResult:
        return self.for_image(request.image).edit(request)

    def grid(self, request: EditRequest, text_scales: Sequence[float] | None = None,
             image_scales: Sequence[float] | None = None) -> GridResult:
        return self.for_image(request.image).grid(request, text_scales, image_scales)

    def edit_batch(self, jobs: Sequence[tuple[EditRequest, Sequence[tuple[float, float]]]]
                   ) -> list[list[EditResult]]:
        """`Pix2PixEditor.edit_batch`, each model batching the requests for its pictures."""
        by_model: dict[int, list[int]] = {}
        for index, (request, _) in enumerate(jobs):
            by_model.setdefault(id(self.for_image(request.image)), []).append(index)
        results: list[list[EditResult]] = [[] for _ in jobs]
        for indices in by_model.values():
            model = self.for_image(jobs[indices[0]][0].image)
            for index, job_results in zip(indices, model.edit_batch([jobs[i] for i in indices]),
                                          strict=True):
                results[index] = job_results
        return results


def open_model(name: str, device: str | None = None, offload: str | None = None) -> Editor:
    """The editor for a model name; `demo` is the embedded pair, chosen per picture.

    `offload` ("model" or "sequential") keeps a large model's weights on the CPU between
    uses (`editor.load_editor`)."""
    from . import load_editor

    def embedded(model: str) -> Pix2PixEditor:
        return cast("Pix2PixEditor", load_editor(model, device=device))  # both InstructPix2Pix

    if name == "demo":
        return EmbeddedEditor(embedded)
    return load_editor(name, device=device, offload=offload)
