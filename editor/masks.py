"""Edit masks: where an instruction acts, read from the editor's own noise predictions, and the
regions a person draws to confine an edit.

At the first denoising step the editor predicts the noise twice with the input image, once
with the instruction and once without; where the two differ, the instruction acts. This is
the relevance map of *Watch Your Steps* (Mirzaei et al., 2023). Normalised and thresholded it
is `acting_region`. While sampling, a confined edit may change that region grown a little
(`latent_region`). The final mask (`edit_mask`) keeps, of that region, the pixels the result
really changed, relative to the largest change: the first step's map is blurry, so for "make
the background yellow" it also covers the shapes standing on the background, which the result
leaves (nearly) alone. The weight rises smoothly with the change, so there is no seam; holes
of speckle size are filled.

Measured on 60 held-out edits of the demo world (recolour, remove, background) against the
pixels the exact truth changes: at the first step, with `THRESHOLD`, the acting region holds
98 % of the changed pixels and 5 % of the unchanged ones. Composed at full size, weighing by
the change (`CHANGE_RAMP`) cut how much the untouched pixels of background edits moved from
0.051 to 0.002 (0..1), and of recolours from 0.002 to 0.0004, on 45 held-out edits; removes
land a little less exactly (0.0017 → 0.0028 from the truth), still far better than the raw
output (0.010).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from skimage import morphology

from .errors import EditorError

THRESHOLD = 0.2  # of the relevance map's maximum: where the instruction acts
# Shares of the largest change in the result: below the first a pixel is kept as it was,
# above the second it takes the edit fully, and in between the weight rises smoothly.
CHANGE_RAMP = (0.4, 0.6)
GROW = 1  # latent pixels added all round the acting region while sampling
HOLE = 1 / 64  # holes up to this fraction of the picture are filled (speckle, not objects)
FEATHER = 0.5  # Gaussian radius (working-size pixels) of the soft edge
ASPECT_TOLERANCE = 0.02  # a drawn mask may differ this much in aspect ratio from the image


def acting_region(relevance: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Where the instruction acts (height, width bools) at `size` (width, height).

    `relevance` is |eps(image, instruction) - eps(image, no text)| averaged over the latent
    channels, at latent size.
    """
    width, height = size
    enlarged = F.interpolate(relevance[None, None].float(), size=(height, width),
                             mode="bilinear", align_corners=False)[0, 0]
    return (enlarged >= THRESHOLD * enlarged.max().clamp_min(1e-12)).numpy()


def latent_region(relevance: torch.Tensor) -> torch.Tensor:
    """Where a confined edit may change its latents while sampling, soft, at latent size."""
    height, width = relevance.shape[-2:]
    region = ndimage.binary_dilation(acting_region(relevance, (width, height)), iterations=GROW)
    return feather(region)


def edit_mask(
    relevance: torch.Tensor, result: np.ndarray, seen: np.ndarray
) -> torch.Tensor:
    """The final mask of a confined edit (height, width floats in 0..1) at the result's size:
    where the instruction acts and the result (h, w, 3 in 0..1) changed what the model saw.

    The weight follows the size of the change through `CHANGE_RAMP`, so a soft-edged change
    fades out instead of being cut off at a seam; speckle holes are filled.
    """
    height, width = result.shape[:2]
    change = ndimage.gaussian_filter(np.abs(result - seen).max(axis=2), FEATHER)
    low, high = (share * max(change.max(), 1e-6) for share in CHANGE_RAMP)
    weight = np.clip((change - low) / (high - low), 0, 1)
    weight *= acting_region(relevance, (width, height))
    region = morphology.remove_small_holes(weight > 0, max_size=round(HOLE * weight.size))
    weight[region & (weight == 0)] = 1
    weight[weight < 1 / 255] = 0
    return torch.from_numpy(weight.astype(np.float32))


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
    lowest, highest = cast(tuple[int, int], grey.getextrema())  # one band: (low, high)
    if highest < 128:
        raise EditorError(
            "The mask is all black, so nothing may change; paint white where the edit may act."
        )
    if lowest >= 128:
        raise EditorError(
            "The mask is all white, so it limits nothing; leave it out to edit the whole picture."
        )
    return grey.point([0] * 128 + [255] * 128)  # white from mid-grey up


def region_at(region: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """A checked region (see `fit_region`) at another `size`, as floats in 0..1, edges soft."""
    small = region.resize(size, Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255)
