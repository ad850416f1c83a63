"""How good a demo-world edit is, measured against the world's exact ground truth.

All distances are mean absolute differences of RGB values scaled to 0..1.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from editor.demo import world


@dataclass(frozen=True)
class Score:
    """How one edited image compares with the input and the truth."""

    kind: str
    to_truth: float  # distance from the output to the exact after image
    nothing_to_truth: float  # the same distance for doing nothing (output = input)
    to_input: float  # distance from the output to the input
    landed: bool | None  # local edits: the shape took the asked colour / became background
    outside_change: float | None  # local edits: change outside the shape


def score(edit: world.Edit, output: np.ndarray) -> Score:
    """Compare one output (SIZE x SIZE x 3 uint8) with the edit's input and truth."""
    before, truth = world.render(edit.before), world.render(edit.after)
    result = compare(edit.kind, before, truth, output)
    if edit.kind not in ("recolour", "remove") or edit.target is None:
        return result
    before, truth, output = (image.astype(np.float32) / 255 for image in (before, truth, output))
    inside = world.coverage(edit.target) >= 1
    outside = ~_grown(world.coverage(edit.target) > 0)  # skips the anti-aliased edge
    # the colour asked for, as the after image shows it (lighting included)
    wanted = truth[inside].mean(axis=0)
    was = before[inside].mean(axis=0)
    now = output[inside].mean(axis=0)
    landed = bool(np.linalg.norm(now - wanted) <= 0.5 * np.linalg.norm(was - wanted))
    outside_change = float(np.abs(output - before)[outside].mean())
    return replace(result, landed=landed, outside_change=outside_change)


def compare(kind: str, before: np.ndarray, truth: np.ndarray, output: np.ndarray) -> Score:
    """Compare an output with its input and exact truth (uint8 images of one size) by the
    distances every edit has; `score` adds what local edits need."""
    before, truth, output = (np.asarray(image, np.float32) / 255
                             for image in (before, truth, output))
    return Score(
        kind=kind,
        to_truth=float(np.abs(output - truth).mean()),
        nothing_to_truth=float(np.abs(before - truth).mean()),
        to_input=float(np.abs(output - before).mean()),
        landed=None,
        outside_change=None,
    )


def _grown(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one pixel all round (8-neighbourhood)."""
    padded = np.pad(mask, 1)
    size = mask.shape[0]
    return np.any([padded[y : y + size, x : x + size] for y in range(3) for x in range(3)], axis=0)


def mean_by_kind(scores: Sequence[Score], field: str) -> dict[str, float]:
    """The mean of one score field for each edit kind (kinds without values are left out)."""
    values: dict[str, list[float]] = {}
    for item in scores:
        value = getattr(item, field)
        if value is not None:
            values.setdefault(item.kind, []).append(float(value))
    return {kind: float(np.mean(v)) for kind, v in values.items()}
