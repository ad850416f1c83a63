"""Edit masks: where an instruction acts, read from the editor's own noise predictions, and the
regions a person draws to confine an edit.

At the first denoising step the editor predicts the noise twice with the input image, once
with the instruction and once without; where the two differ, the instruction acts. This is
the relevance map of *Watch Your Steps* (Mirzaei et al., 2023). `relevance_mask` turns it into
a clean mask: normalised, thresholded, grown a little, holes filled, edges feathered.

Measured on 60 held-out edits of the demo world (recolour, remove, background) against the
pixels the exact truth changes: at the first step, with the threshold below, the region holds
98 % of the changed pixels and 5 % of the unchanged ones, before growing.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from skimage import morphology

from .errors import EditorError

THRESHOLD = 0.2  # of the map's maximum: where the instruction acts
GROW = 1  # pixels (at working size) added all round, so edges of the change are inside
HOLE = 1 / 64  # holes up to this fraction of the picture are filled (speckle, not objects)
FEATHER = 1.0  # Gaussian radius (working-size pixels) of the soft edge
ASPECT_TOLERANCE = 0.02  # a drawn mask may differ this much in aspect ratio from the image


def relevance_mask(relevance: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A soft mask (height, width) in 0..1 at `size` (width, height) from a relevance map.

    `relevance` is |eps(image, instruction) - eps(image, no text)| averaged over the latent
    channels, at latent size.
    """
    width, height = size
    enlarged = F.interpolate(relevance[None, None].float(), size=(height, width),
                             mode="bilinear", align_corners=False)[0, 0]
    region = (enlarged >= THRESHOLD * enlarged.max().clamp_min(1e-12)).numpy()
    region = ndimage.binary_dilation(region, iterations=GROW)
    region = morphology.remove_small_holes(region, max_size=round(HOLE * region.size))
    return feather(region)


def feather(region: np.ndarray) -> torch.Tensor:
    """A hard region (height, width bools) with a Gaussian edge, as floats in 0..1; the
    region itself stays at 1 and pixels far from it at exactly 0."""
    soft = ndimage.gaussian_filter(region.astype(np.float32), FEATHER, truncate=2.0)
    soft = np.maximum(soft, region)  # the region itself stays fully editable
    soft[soft < 1 / 255] = 0
    return torch.from_numpy(soft)


def fit_region(region: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A person's mask (white = may change) at `size` (width, height), checked.

    A mask of the image's shape at another size is resized; one of another aspect ratio, one
    that is all black (nothing may change) or all white (it limits nothing) is refused with a
    sentence that says what to do.
    """
    width, height = size
    if abs(region.width / region.height - width / height) > ASPECT_TOLERANCE * width / height:
        raise EditorError(
            f"The mask is {region.width}×{region.height} but the image is {width}×{height}; "
            "draw the mask over the image itself so their shapes match."
        )
    grey = region.convert("L").resize(size, Image.Resampling.BILINEAR)
    lowest, highest = grey.getextrema()
    if highest < 128:
        raise EditorError(
            "The mask is all black, so nothing may change; paint white where the edit may act."
        )
    if lowest >= 128:
        raise EditorError(
            "The mask is all white, so it limits nothing; leave it out to edit the whole picture."
        )
    return grey.point(lambda value: 255 if value >= 128 else 0)


def region_at(region: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """A checked region (see `fit_region`) at another `size`, as floats in 0..1, edges soft."""
    small = region.resize(size, Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255)
