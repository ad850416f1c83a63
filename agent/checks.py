"""Drift checks: how far an edit moved away from its parent image or the session's original.

Two numbers describe a drift: the mean absolute pixel difference (0 = identical, 255 = black
versus white everywhere) and SSIM, the structural similarity (1 = identical, about 0 =
unrelated). An edit also carries its mask, where it was allowed to change the picture; three
more numbers read it: how much of the picture the mask covers, and the mean difference
outside it (nothing may move there) and inside it (the edit must have acted).

A local edit ("add a hat", "make the circle blue") should change one part and keep the rest;
when it changed the whole picture it drifted, and the agent retries it once with s_I
raised by `RETRY_IMAGE_SCALE_STEP`, keeping whichever result is better.

When a local edit drifted, measured against its parent image:

| scope  | drifted when mean abs. difference > | or SSIM < | or the mask covers more than |
| ------ | ----------------------------------- | --------- | ---------------------------- |
| local  | 40                                  | 0.5       | 60 % of the picture          |
| global | never: a restyle is meant to change everything              |

Any edit that moved a pixel outside its mask drifted (the composite keeps those pixels
exactly, so this only catches a broken composite). An edit has acted when the mean difference
inside its mask is at least `MIN_ACTED`.

Measured on synthetic scenes of 32–256 pixels: recolouring a fifth of the picture moves the
mean difference by about 20–23 and keeps SSIM at 0.74–0.88 (a third: about 33 and 0.6–0.82);
darkening the whole picture moves the mean difference past 60, and re-texturing it or turning
it to its negative takes SSIM below 0.4. Both limits are data: change `DRIFT_LIMITS`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

from .command import DEFAULT_LIMITS, ScaleLimits, Scope


@dataclass(frozen=True)
class Drift:
    """How different an image is from a reference image."""

    mean_abs_diff: float  # 0–255
    ssim: float  # 1 means identical
    # Read from the edit's mask; None when there is none:
    mask_area: float | None = None  # the fraction of the picture the mask let change
    outside_mask: float | None = None  # mean abs. difference where the mask kept it, 0–255
    inside_mask: float | None = None  # the same inside the mask


@dataclass(frozen=True)
class DriftLimit:
    """Beyond any bound, an edit drifted."""

    max_mean_abs_diff: float
    min_ssim: float
    max_mask_area: float


DRIFT_LIMITS: dict[Scope, DriftLimit] = {
    "local": DriftLimit(max_mean_abs_diff=40.0, min_ssim=0.5, max_mask_area=0.6)
}
RETRY_IMAGE_SCALE_STEP = 0.5  # added to s_I when a local edit drifted
MIN_ACTED = 1.0  # mean abs. difference (0–255) inside the mask below which an edit did nothing
SSIM_WINDOW = 7  # pixels per side of the windows SSIM compares (scikit-image's default)


def measure_drift(
    image: Image.Image, reference: Image.Image, mask: Image.Image | None = None
) -> Drift:
    """The drift of `image` from `reference`; when their sizes differ, the larger is resized to
    the smaller's size first. `mask` ("L", the image's size) is where the edit might change.
    SSIM compares 7×7 windows, so an image thinner than that has each pixel repeated until a
    window fits."""
    if image.size != reference.size:
        if image.width * image.height > reference.width * reference.height:
            image = image.resize(reference.size, Image.Resampling.LANCZOS)
        else:
            reference = reference.resize(image.size, Image.Resampling.LANCZOS)
    factor = -(-SSIM_WINDOW // min(image.size))  # ceiling division
    if factor > 1:
        size = (image.width * factor, image.height * factor)
        image, reference = (picture.resize(size, Image.Resampling.NEAREST)
                            for picture in (image, reference))
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    reference_pixels = np.asarray(reference.convert("RGB"), dtype=np.float64)
    ssim = cast(float, structural_similarity(  # a float unless asked for more with full=
        pixels, reference_pixels, win_size=SSIM_WINDOW, data_range=255.0, channel_axis=2
    ))
    difference = np.abs(pixels - reference_pixels).mean(axis=2)
    drift = Drift(mean_abs_diff=float(difference.mean()), ssim=float(ssim))
    if mask is None:
        return drift
    inside = np.asarray(mask.resize(image.size, Image.Resampling.NEAREST)) > 0
    return replace(
        drift,
        mask_area=float(inside.mean()),
        outside_mask=float(difference[~inside].mean()) if not inside.all() else 0.0,
        inside_mask=float(difference[inside].mean()) if inside.any() else 0.0,
    )


def has_drifted(drift: Drift, scope: Scope) -> bool:
    """Whether an edit of `scope` moved too far from its parent (see the table above)."""
    if drift.outside_mask:
        return True
    limit = DRIFT_LIMITS.get(scope)
    if limit is None:
        return False
    return (drift.mean_abs_diff > limit.max_mean_abs_diff or drift.ssim < limit.min_ssim
            or (drift.mask_area or 0) > limit.max_mask_area)


def has_acted(drift: Drift) -> bool:
    """Whether an edit changed anything where its mask let it (True when there is no mask)."""
    return drift.inside_mask is None or drift.inside_mask >= MIN_ACTED


def is_better(candidate: Drift, current: Drift, scope: Scope) -> bool:
    """Whether a retried edit should replace the first attempt: one that stayed within the
    limits beats one that drifted; between two of a kind, the one closer to its parent wins."""
    if has_drifted(candidate, scope) != has_drifted(current, scope):
        return not has_drifted(candidate, scope)
    return candidate.ssim > current.ssim


def retry_image_scale(image_scale: float, limits: ScaleLimits = DEFAULT_LIMITS) -> float | None:
    """The s_I to retry a drifted edit with, or None when s_I is already at its maximum."""
    highest = limits.image_scale[1]
    return None if image_scale >= highest else min(image_scale + RETRY_IMAGE_SCALE_STEP, highest)
