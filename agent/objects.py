"""Segment-then-inpaint in a chat turn: when the agent has a grounded model
(`editor.grounding`) and an edit names an object to replace or remove ("replace the car with
a bicycle", "remove the lamp"), the object is found (OWLv2, then SAM) and the grounded
model's inpainter repaints only its mask; everything else comes back exactly. An object it
cannot find leaves the edit to the usual editor, and the reply says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageChops

from .command import Command

if TYPE_CHECKING:
    from editor.grounding import GroundedInpaintEditor


WHOLE_PICTURE = 0.98  # a mask covering more than this share is no object of its own


@dataclass
class ObjectRoute:
    """Where a turn's edit goes: the grounded editor and the object's mask, or (editor None)
    the usual editor; `note` is what the reply says about it."""

    editor: GroundedInpaintEditor | None
    region: Image.Image | None
    note: str = ""


def route_object_edit(objects: GroundedInpaintEditor | None, image: Image.Image,
                      command: Command, region: Image.Image | None) -> ObjectRoute:
    """Send an edit that replaces or removes a named object to `objects`, confined to the
    object's mask (within the person's `region`, if they drew one)."""
    found = None if objects is None or command.action not in ("edit", "refine", "again") \
        else objects.find(image, command.instruction)
    if objects is None or found is None:
        return ObjectRoute(None, region)
    named, mask = found
    if mask is None:
        return ObjectRoute(None, region, f" I found no {named.name} to repaint on its own, so "
                                         "the usual editor made the edit.")
    if region is not None:
        mask = ImageChops.darker(mask, region.convert("L").resize(mask.size))
    share = np.asarray(mask).mean() / 255
    if share == 0:
        return ObjectRoute(None, region, f" The {named.name} lies outside your region, so the "
                                         "usual editor made the edit.")
    if share > WHOLE_PICTURE:
        return ObjectRoute(None, region, f" The {named.name} seemed to fill the whole picture, "
                                         "so the usual editor made the edit.")
    doing = "removed it" if named.removes else f"replaced it with {named.prompt}"
    return ObjectRoute(objects, mask, f"I found the {named.name} (OWLv2, then SAM: {share:.0%} "
                                      f"of the picture) and {doing}, repainting only there.")
