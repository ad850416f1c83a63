"""Segment, then inpaint: the exact way to replace or remove one named object.

"replace the car with a bicycle" names an object (the car) and what goes in its place (a
bicycle); "remove the lamp" names one to take away. `ObjectFinder` finds the object from its
name: OWLv2, a zero-shot detector, boxes it (`Owlv2ForObjectDetection`), and SAM cuts its
outline out of the best box (`SamModel`), as Grounded-SAM does. `GroundedInpaintEditor` then
repaints only that mask with an inpainting model, so every other pixel is kept exactly.

A grounded model is an inpainting pipeline folder that also holds `detector/` (an OWLv2
checkpoint with its processor) and `segmenter/` (a SAM checkpoint with its processor), or the
short name `sam-inpaint` (their hub checkpoints, `editor.models.KNOWN_MODELS`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from transformers import Owlv2ForObjectDetection, Owlv2Processor, SamModel, SamProcessor

from .base import EditRequest, EditResult
from .errors import EditorError, ModelNotFound
from .grid import GridResult
from .models import ModelSource
from .single_guidance import InpaintEditor

DETECTION_THRESHOLD = 0.1  # OWLv2's score from which a box counts as the object
GROW = 0.02  # the mask grows by this share of the long side, so no halo of the object stays
REMOVE_PROMPT = "empty background, nothing there"  # what "remove the lamp" paints in

_ARTICLE = r"(?:(?:the|a|an|that|this|my) )?"
_REPLACE = re.compile(  # "replace the car with a bicycle", "swap the hat for a crown"
    r"^(?:replace|swap|exchange) " + _ARTICLE + r"(?P<name>.+?) (?:with|for|by) (?P<new>.+)$"
    r"|^(?:turn|change|make) " + _ARTICLE + r"(?P<name2>.+?) into (?P<new2>.+)$",
    re.IGNORECASE,
)
_REMOVE = re.compile(
    r"^(?:remove|delete|erase|get rid of|take (?:out|away)) " + _ARTICLE + r"(?P<name>.+?)"
    r"(?: from (?:the )?(?:picture|image|photo))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ObjectEdit:
    """An instruction that names one object: what to find, and what to paint in its place."""

    name: str  # "car"
    prompt: str  # "bicycle", or REMOVE_PROMPT

    @property
    def removes(self) -> bool:
        return self.prompt == REMOVE_PROMPT


def object_edit(instruction: str) -> ObjectEdit | None:
    """The object an instruction replaces or removes, or None when it names none."""
    text = " ".join(instruction.strip().rstrip(".!").split())
    if match := _REPLACE.match(text):
        name, new = match["name"] or match["name2"], match["new"] or match["new2"]
        return ObjectEdit(name, new)
    if match := _REMOVE.match(text):
        return ObjectEdit(match["name"], REMOVE_PROMPT)
    return None


class ObjectFinder:
    """Finds a named object in a picture: OWLv2 boxes it, SAM cuts out its mask."""

    def __init__(self, detector: Any, detector_processor: Any, segmenter: Any,
                 segmenter_processor: Any, device: torch.device):
        self.detector = detector
        self.detector_processor = detector_processor
        self.segmenter = segmenter
        self.segmenter_processor = segmenter_processor
        self.device = device

    @classmethod
    def from_pretrained(cls, detector: str, segmenter: str, device: torch.device,
                        how_to_fetch: str) -> ObjectFinder:
        """Load both parts by hub id or folder; a missing one is named in one sentence."""
        path = detector
        try:
            owl = Owlv2ForObjectDetection.from_pretrained(path)
            owl_processor = Owlv2Processor.from_pretrained(path)
            path = segmenter
            sam = SamModel.from_pretrained(path)
            sam_processor = SamProcessor.from_pretrained(path)
        except OSError:
            part = "detector" if path == detector else "segmenter"
            raise ModelNotFound(f"The {part} '{path}' of the grounded model is not here; "
                                f"{how_to_fetch}.") from None
        owl, sam = owl.to(device), sam.to(device)  # pyright: ignore[reportArgumentType]
        return cls(owl.eval(), owl_processor, sam.eval(), sam_processor, device)

    @torch.inference_mode()
    def find(self, image: Image.Image, name: str) -> Image.Image | None:
        """The object's mask ("L" at the image's size, white = the object, grown a little so
        its edge is repainted too), or None when OWLv2 sees no such object."""
        inputs = self.detector_processor(text=[[f"a photo of a {name}"]], images=image,
                                         return_tensors="pt").to(self.device)
        outputs = self.detector(**inputs)
        side = max(image.size)  # OWLv2 pads the picture to a square
        found = self.detector_processor.post_process_grounded_object_detection(
            outputs, threshold=DETECTION_THRESHOLD, target_sizes=[(side, side)])[0]
        inside = torch.tensor([image.width, image.height] * 2)
        boxes = found["boxes"].cpu().clamp(min=0).minimum(inside)  # within the picture
        has_area = ((boxes[:, 2:] - boxes[:, :2]) >= 1).all(dim=1)
        if not has_area.any():
            return None
        scores = found["scores"].cpu().where(has_area, -1.0)
        box = boxes[scores.argmax()].tolist()
        prompt = self.segmenter_processor(image, input_boxes=[[box]], return_tensors="pt")
        masks = self.segmenter(**prompt.to(self.device), multimask_output=False).pred_masks
        mask = self.segmenter_processor.image_processor.post_process_masks(
            masks.cpu(), prompt["original_sizes"].cpu(), prompt["reshaped_input_sizes"].cpu(),
        )[0][0, 0].numpy()
        if not mask.any():
            return None
        grown = ndimage.binary_dilation(mask, iterations=max(1, round(GROW * side)))
        return Image.fromarray((grown * 255).astype(np.uint8), mode="L")


class GroundedInpaintEditor:
    """Replaces or removes the object an instruction names: `ObjectFinder` masks it, the
    inpainting model repaints only the mask. A request with a region (the person's mask, or
    one the agent found already) is repainted there without searching."""

    def __init__(self, finder: ObjectFinder, inpainter: InpaintEditor):
        self.finder = finder
        self.inpainter = inpainter
        self.defaults = inpainter.defaults
        self.model_id = inpainter.model_id
        self.device = inpainter.device

    @classmethod
    def from_pretrained(cls, source: ModelSource, device=None, dtype=None,
                        offload: str | None = None) -> GroundedInpaintEditor:
        inpainter = InpaintEditor.from_pretrained(source, device=device, dtype=dtype,
                                                  offload=offload)
        how_to_fetch = f"put its folder in {source.path}, or use the hub checkpoints of " \
            "`--model sam-inpaint`"
        finder = ObjectFinder.from_pretrained(source.parts["detector"],
                                              source.parts["segmenter"],
                                              inpainter.device, how_to_fetch)
        return cls(finder, inpainter)

    def repertoire_for(self, image: Image.Image) -> dict | None:
        return None

    def find(self, image: Image.Image, instruction: str) -> tuple[ObjectEdit, Image.Image
                                                                  | None] | None:
        """The object the instruction names and its mask (None: not in the picture); None
        when the instruction names no object to replace or remove."""
        named = object_edit(instruction)
        return None if named is None else (named, self.finder.find(image, named.name))

    def edit(self, request: EditRequest) -> EditResult:
        inpainting = self._inpainting(request)
        return replace(self.inpainter.edit(inpainting), region=inpainting.region)

    def grid(self, request: EditRequest, text_scales: Sequence[float] | None = None,
             image_scales: Sequence[float] | None = None) -> GridResult:
        return self.inpainter.grid(self._inpainting(request), text_scales, image_scales)

    def _inpainting(self, request: EditRequest) -> EditRequest:
        """The inpainter's request: what to paint, and where (the object's mask unless the
        request has a region)."""
        named = object_edit(request.instruction)
        if named is None:
            raise EditorError(
                f"'{request.instruction}' names no object to replace or remove; say e.g. "
                "'replace the car with a bicycle' or 'remove the lamp'.")
        region = request.region
        if region is None:
            region = self.finder.find(request.image, named.name)
            if region is None:
                raise EditorError(f"No {named.name} was found in the picture; name what is "
                                  "there, or draw a mask over it.")
        return replace(request, instruction=named.prompt, region=region)
