"""Bringing an edit made at working size onto the parent image at the parent's own size.

An editor works on a small copy of the picture; the person keeps theirs. `compose` puts an
`EditResult` onto the full-size parent:

- outside the edit mask, the parent's pixels exactly, bit for bit;
- inside it, the edit brought to full size by guided upsampling: local linear colour models
  that map the parent as the model saw it to the result, both at working size, are applied to
  the parent at full size, so a tonal or colour change keeps every edge and texture of the
  original (He & Sun, "Fast guided filter", 2015; Chen et al., "Bilateral guided upsampling",
  2016);
- where those models cannot explain the result (the edit drew something new), the result
  itself, enlarged; unless the model draws nothing new (`EditResult.colour_only`), whose
  result always goes through the colour models.

The mask is feathered at working size and enlarged smoothly, so its border shows no seam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageChops

from .base import EditResult
from .masks import fit_region

RIDGE = 1e-3  # how strongly a window with little colour variation leans on the global model
CLIPPED = 0.5 / 255  # a target channel this close to 0 or 1 was clipped by the edit
CLIPPED_TRUST = 1e-3  # how much a clipped pixel counts in the colour models' fits
UNEXPLAINED = 0.06  # a residual (0..1) from which the enlarged result replaces the model
BAND_PIXELS = 4_000_000  # full-size pixels handled at once, to bound memory on huge photos


@dataclass
class Composite:
    """The edited image at the parent's size, and the mask that says where it may differ."""

    image: Image.Image  # RGB, the parent's size
    mask: Image.Image  # "L", the parent's size: 0 where the parent's pixels were kept exactly


def compose(
    parent: Image.Image, result: EditResult, region: Image.Image | None = None
) -> Composite:
    """The edit in `result` applied to `parent` at the parent's own size (see the module).

    `region`, the mask a person drew (white = may change, see `masks.fit_region`), is a hard
    limit at full size: no pixel outside it changes, however the working-size mask rounds;
    so is `result.region`, the object mask a grounded editor found.
    """
    parent = parent.convert("RGB")
    if result.region is not None:
        region = result.region if region is None else ImageChops.darker(
            result.region, fit_region(region, result.region.size))
    seen, edited = _pixels(result.seen), _pixels(result.image)
    weight = _pixels(result.mask)[..., :1]
    coefficients = local_colour_models(seen, edited, weight)
    if result.colour_only:  # the model drew nothing new: the colour models carry all of it
        explained = torch.ones_like(weight)
    else:
        fitted = apply_colour_models(coefficients, seen).clamp(0, 1)  # clipped as at full size
        residual = (fitted - edited).abs().mean(dim=-1, keepdim=True)
        explained = (1 - residual / UNEXPLAINED).clamp(0, 1)
    # Everything that is enlarged, as channels of one small image: 9 + 3 model coefficients,
    # the result, how well the models explain it, and the mask.
    small = torch.cat([coefficients, edited, explained, weight], dim=-1).permute(2, 0, 1)
    # Only full-size pixels whose working-size pixel the mask touches may change: a bilinear
    # enlargement alone would spread the mask half a working pixel into untouched parts.
    covered = (weight > 0).float().permute(2, 0, 1)
    full = np.array(parent)  # a writable copy: torch reads bands of it
    allowed = None if region is None else np.asarray(fit_region(region, parent.size)) > 0
    image, mask = np.empty_like(full), np.empty(full.shape[:2], np.uint8)
    rows = max(1, BAND_PIXELS // parent.width)
    for top in range(0, parent.height, rows):
        band = slice(top, min(top + rows, parent.height))
        limit = _enlarge(covered, band, parent.size, "nearest")[0]
        if allowed is not None:
            limit = limit * torch.from_numpy(allowed[band])
        image[band], mask[band] = _compose_band(
            full[band], _enlarge(small, band, parent.size, "bilinear"), limit)
    return Composite(Image.fromarray(image), Image.fromarray(mask, mode="L"))


def local_colour_models(
    guide: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Per-pixel affine colour models (h, w, 12: a 3×3 matrix, then 3 offsets), smoothed.

    Each window fits target ≈ A·guide + b by least squares; windows where the guide hardly
    varies lean on one global model fitted over the weighted region instead of on zero, so a
    flat-looking patch at working size keeps its full-size texture.

    Target pixels clipped at black or white say only that the edit went past them, so the
    fits hardly count them: the models keep the edit's true slope, and the clamp at full size
    clips exactly the pixels the edit would (a windowful of clipped pixels is fitted as is).
    """
    height, width, _ = guide.shape
    radius = max(1, round(max(height, width) / 16))
    inside_range = ((target > CLIPPED) & (target < 1 - CLIPPED)).all(dim=-1, keepdim=True)
    trust = inside_range.float() * (1 - CLIPPED_TRUST) + CLIPPED_TRUST
    global_matrix = _global_colour_model(guide, target, weight * trust)

    def mean(x: torch.Tensor) -> torch.Tensor:  # box filter over each window
        x = x.permute(2, 0, 1)[None]
        x = F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
        return x[0].permute(1, 2, 0)

    total_trust = mean(trust)

    def trusted_mean(x: torch.Tensor) -> torch.Tensor:  # the window's mean, weighed by trust
        return mean(trust * x) / total_trust

    mean_guide, mean_target = trusted_mean(guide), trusted_mean(target)
    products = (guide[..., :, None] * guide[..., None, :]).reshape(height, width, 9)
    cross = (guide[..., :, None] * target[..., None, :]).reshape(height, width, 9)
    covariance = trusted_mean(products).view(height, width, 3, 3) - \
        mean_guide[..., :, None] * mean_guide[..., None, :]
    cross_covariance = trusted_mean(cross).view(height, width, 3, 3) - \
        mean_guide[..., :, None] * mean_target[..., None, :]
    identity = torch.eye(3)
    matrix = torch.linalg.solve(covariance + RIDGE * identity,
                                cross_covariance + RIDGE * global_matrix)  # [i, j]: in i → out j
    offset = mean_target - torch.einsum("hwij,hwi->hwj", matrix, mean_guide)
    return mean(torch.cat([matrix.reshape(height, width, 9), offset], dim=-1))


def apply_colour_models(coefficients: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """`A·image + b` per pixel, for coefficients from `local_colour_models` at image's size."""
    matrix = coefficients[..., :9].unflatten(-1, (3, 3))
    return torch.einsum("...ij,...i->...j", matrix, image) + coefficients[..., 9:12]


def _global_colour_model(guide, target, weight) -> torch.Tensor:
    """One 3×3 colour matrix for the whole weighted region (the identity where the region's
    colours leave it undetermined, e.g. a flat picture)."""
    inputs = torch.cat([guide, torch.ones_like(guide[..., :1])], dim=-1).reshape(-1, 4)
    w = weight.reshape(-1, 1) + 1e-6
    prior = torch.cat([torch.eye(3), torch.zeros(1, 3)])
    normal = inputs.T @ (w * inputs) + 1e-6 * w.sum() * torch.eye(4)
    rhs = inputs.T @ (w * target.reshape(-1, 3)) + 1e-6 * w.sum() * prior
    return torch.linalg.solve(normal, rhs)[:3]


def _enlarge(small: torch.Tensor, band: slice, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Rows `band` of `small` (channels, h, w) enlarged to `size` (width, height), as
    `F.interpolate(mode=mode, align_corners=False)` would enlarge the whole."""
    width, height = size
    ys = (torch.arange(band.start, band.stop, dtype=torch.float32) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]
    return F.grid_sample(small[None], grid, mode=mode, padding_mode="border",
                         align_corners=False)[0]


def _compose_band(full: np.ndarray, enlarged: torch.Tensor, limit: torch.Tensor):
    """One band of the composite from its rows of the enlarged channels (17, rows, width),
    changing no pixel where `limit` is 0."""
    matrix, offset, result = enlarged[:9].unflatten(0, (3, 3)), enlarged[9:12], enlarged[12:15]
    explained, weight = enlarged[15], enlarged[16] * limit
    parent = torch.from_numpy(full).permute(2, 0, 1).float() / 255  # channel planes
    guided = offset + matrix[0] * parent[0] + matrix[1] * parent[1] + matrix[2] * parent[2]
    inside = result + explained * (guided - result)
    blended = parent + weight * (inside - parent)
    pixels = (blended.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    kept = (weight <= 0).numpy()
    pixels[kept] = full[kept]  # outside the mask: the parent's own bytes
    return pixels, (weight * 255).round().to(torch.uint8).numpy()


def _pixels(image: Image.Image) -> torch.Tensor:
    """An image as (h, w, 3) floats in 0..1 (a mask is repeated over the three channels)."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array)
