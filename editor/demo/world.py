"""The demo model's procedural world: flat scenes of shapes and edits with exact ground truth.

A scene is a plain background with 1-3 non-overlapping shapes (at most one of each kind, so
"the circle" always names one shape). An edit is an instruction plus the scene before and
after it; rendering the "after" scene gives the exact image a perfect editor would produce.
Everything is drawn from a numpy random generator, so the same seed gives the same edits.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

SIZE = 32
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 31, 31),
    "green": (26, 184, 51),
    "blue": (38, 64, 242),
    "yellow": (242, 224, 26),
    "purple": (148, 51, 204),
    "orange": (255, 140, 0),
    "white": (242, 242, 242),
    "cyan": (26, 217, 230),
}
SHAPE_KINDS = ("circle", "square", "triangle")
REACH = {"circle": 1.0, "square": math.sqrt(2.0), "triangle": 2.0 / math.sqrt(3.0)}
SHAPE_SIZES = {"circle": (3.5, 6.0), "square": (3.0, 5.0), "triangle": (4.0, 7.0)}  # half-widths
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
MOVE_STEP = 6.0
DARKEN_GAIN = 0.55  # darken: every channel times this
BRIGHTEN_MIX = 0.45  # brighten: every channel this far towards white
EDIT_KINDS = ("recolour", "background", "remove", "darken", "brighten", "move")
HELD_OUT_SEED = 20_241_128  # never used for training streams

PHRASINGS: dict[str, tuple[str, ...]] = {
    "recolour": (
        "make the {shape} {colour}",
        "turn the {shape} {colour}",
        "change the {shape} to {colour}",
        "paint the {shape} {colour}",
        "colour the {shape} {colour}",
        "recolor the {shape} {colour}",
        "the {shape} should be {colour}",
    ),
    "background": (
        "make the background {colour}",
        "change the background to {colour}",
        "paint the background {colour}",
        "turn the background {colour}",
        "{colour} background",
        "set the background to {colour}",
    ),
    "remove": (
        "remove the {shape}",
        "delete the {shape}",
        "erase the {shape}",
        "take away the {shape}",
        "get rid of the {shape}",
        "remove the {colour} {shape}",
    ),
    "darken": (
        "darken the image",
        "make it darker",
        "darker",
        "make the picture darker",
        "darken it",
        "dim the image",
    ),
    "brighten": (
        "brighten the image",
        "make it brighter",
        "brighter",
        "make the picture brighter",
        "lighten it",
        "brighten it",
    ),
    "move": (
        "move the {shape} {direction}",
        "shift the {shape} {direction}",
        "push the {shape} {direction}",
        "move the {colour} {shape} {direction}",
        "nudge the {shape} to the {direction}",
    ),
}


@dataclass(frozen=True)
class Shape:
    """One flat-coloured shape; `x`, `y` is its centre in pixels, `size` its half-width."""

    kind: str
    colour: str
    x: float
    y: float
    size: float

    @property
    def reach(self) -> float:
        """Radius of the circle that contains the shape (used to keep shapes apart)."""
        return REACH[self.kind] * self.size


@dataclass(frozen=True)
class Scene:
    """A background colour, its shapes, and the brightness edits applied so far (in order)."""

    background: str
    shapes: tuple[Shape, ...]
    lighting: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edit:
    """An instruction with the scene before and after it.

    `target` is the shape the edit is about (before the edit), `colour` the colour asked for.
    """

    kind: str
    instruction: str
    before: Scene
    after: Scene
    target: Shape | None = None
    colour: str | None = None


# --- rendering --------------------------------------------------------------------------

_PIXEL_Y, _PIXEL_X = np.mgrid[0:SIZE, 0:SIZE] + 0.5  # pixel centres, float64 throughout


def coverage(shape: Shape) -> np.ndarray:
    """How much of each pixel the shape covers, 0..1, with a one-pixel anti-aliased edge."""
    x, y = _PIXEL_X - shape.x, _PIXEL_Y - shape.y
    if shape.kind == "circle":
        distance = np.hypot(x, y) - shape.size
    elif shape.kind == "square":
        qx, qy = np.abs(x) - shape.size, np.abs(y) - shape.size
        outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
        distance = outside + np.minimum(np.maximum(qx, qy), 0)
    else:
        distance = _triangle_distance(x, -y, shape.size)
    return np.clip(0.5 - distance, 0.0, 1.0)


def _triangle_distance(x: np.ndarray, y: np.ndarray, half_side: float) -> np.ndarray:
    """Signed distance to an upright equilateral triangle centred on its centroid."""
    k = np.sqrt(3.0)
    x = np.abs(x) - half_side
    y = y + half_side / k
    fold = x + k * y > 0
    x, y = np.where(fold, (x - k * y) / 2, x), np.where(fold, (-k * x - y) / 2, y)
    x = x - np.clip(x, -2 * half_side, 0)
    return -np.hypot(x, y) * np.sign(y)


def render(scene: Scene) -> np.ndarray:
    """The scene as a (SIZE, SIZE, 3) uint8 RGB array."""
    image = np.empty((SIZE, SIZE, 3))
    image[:] = PALETTE[scene.background]
    for shape in scene.shapes:
        alpha = coverage(shape)[..., None]
        image = image * (1 - alpha) + np.array(PALETTE[shape.colour]) * alpha
    for change in scene.lighting:
        image = image * DARKEN_GAIN if change == "darken" else image + (255 - image) * BRIGHTEN_MIX
    return np.round(image).astype(np.uint8)


def render_image(scene: Scene) -> Image.Image:
    """The scene as a PIL RGB image."""
    return Image.fromarray(render(scene))


# --- scenes and edits -------------------------------------------------------------------


def random_scene(rng: np.random.Generator) -> Scene:
    """A background and 1-3 shapes of distinct kinds and colours that do not touch."""
    background = str(rng.choice(list(PALETTE)))
    count = int(rng.integers(1, 4))
    kinds = rng.permutation(SHAPE_KINDS)[:count]
    colours = rng.permutation([colour for colour in PALETTE if colour != background])[:count]
    while True:  # place the shapes one by one; start over when one finds no room
        shapes: list[Shape] = []
        for kind, colour in zip(kinds, colours, strict=True):
            for _ in range(20):
                shape = _random_shape(str(kind), str(colour), rng)
                if _fits(shape, shapes):
                    shapes.append(shape)
                    break
        if len(shapes) == count:
            return Scene(background, tuple(shapes))


def _random_shape(kind: str, colour: str, rng: np.random.Generator) -> Shape:
    """A shape of random size placed anywhere it stays inside the image."""
    size = float(rng.uniform(*SHAPE_SIZES[kind]))
    margin = REACH[kind] * size + 1
    x, y = rng.uniform(margin, SIZE - margin, 2).tolist()
    return Shape(kind, colour, x, y, size)


def _fits(shape: Shape, others: Sequence[Shape]) -> bool:
    """True when the shape lies inside the image and at least 2 pixels from every other."""
    reach = shape.reach
    inside = reach + 1 <= min(shape.x, shape.y, SIZE - shape.x, SIZE - shape.y)
    apart = all(
        math.hypot(shape.x - other.x, shape.y - other.y) >= reach + other.reach + 2
        for other in others
    )
    return inside and apart


def possible_kinds(scene: Scene) -> list[str]:
    """The edit kinds that make sense for this scene."""
    kinds = ["background", "darken", "brighten"]
    if scene.shapes:
        kinds += ["recolour", "remove"]
    if any(_moves(scene, shape) for shape in scene.shapes):
        kinds.append("move")
    return kinds


def _moves(scene: Scene, shape: Shape) -> list[str]:
    """The directions this shape can move a step in without leaving the image or touching."""
    others = [other for other in scene.shapes if other != shape]
    return [
        name
        for name, (dx, dy) in DIRECTIONS.items()
        if _fits(replace(shape, x=shape.x + dx * MOVE_STEP, y=shape.y + dy * MOVE_STEP), others)
    ]


def random_edit(scene: Scene, rng: np.random.Generator, kinds: Sequence[str] = EDIT_KINDS) -> Edit:
    """One edit of `scene`, its kind drawn from `kinds` (repeat a kind to make it likelier)."""
    possible = possible_kinds(scene)
    kind = str(rng.choice([kind for kind in kinds if kind in possible]))
    phrasing = str(rng.choice(PHRASINGS[kind]))
    if kind in ("darken", "brighten"):
        after = replace(scene, lighting=(*scene.lighting, kind))
        return Edit(kind, phrasing, scene, after)
    if kind == "background":
        used = {scene.background, *(shape.colour for shape in scene.shapes)}
        colour = str(rng.choice([colour for colour in PALETTE if colour not in used]))
        after = replace(scene, background=colour)
        return Edit(kind, phrasing.format(colour=colour), scene, after, colour=colour)

    candidates = scene.shapes if kind != "move" else [s for s in scene.shapes if _moves(scene, s)]
    target = candidates[int(rng.integers(len(candidates)))]
    others = tuple(shape for shape in scene.shapes if shape != target)
    if kind == "remove":
        after = replace(scene, shapes=others)
        instruction = phrasing.format(shape=target.kind, colour=target.colour)
        return Edit(kind, instruction, scene, after, target=target)
    if kind == "recolour":
        used = {scene.background, *(shape.colour for shape in scene.shapes)}
        colour = str(rng.choice([colour for colour in PALETTE if colour not in used]))
        moved = replace(target, colour=colour)
        instruction = phrasing.format(shape=target.kind, colour=colour)
    else:
        direction = str(rng.choice(_moves(scene, target)))
        dx, dy = DIRECTIONS[direction]
        moved = replace(target, x=target.x + dx * MOVE_STEP, y=target.y + dy * MOVE_STEP)
        instruction = phrasing.format(shape=target.kind, colour=target.colour, direction=direction)
        colour = None
    shapes = tuple(moved if shape == target else shape for shape in scene.shapes)
    after = replace(scene, shapes=shapes)
    return Edit(kind, instruction, scene, after, target=target, colour=colour)


def random_starting_scene(rng: np.random.Generator) -> Scene:
    """A scene as an edit may find it: usually fresh, sometimes already darkened or brightened."""
    scene = random_scene(rng)
    if rng.random() < 0.25:
        scene = replace(scene, lighting=(str(rng.choice(["darken", "brighten"])),))
    return scene


def training_edits(seed: int | Sequence[int], count: int, kinds: Sequence[str] = EDIT_KINDS
                   ) -> list[Edit]:
    """`count` single edits for training; the same seed gives the same edits.

    Training draws a fresh seed for every step (e.g. `[run_seed, step]`): an endless stream
    that can be resumed at any step.
    """
    rng = np.random.default_rng(seed)
    return [_edit_of_kinds(kinds, rng) for _ in range(count)]


def held_out_edits(count: int, kinds: Sequence[str] = EDIT_KINDS) -> list[Edit]:
    """The fixed evaluation split: edit i is always the same, kinds take turns."""
    return [
        _edit_of_kinds([kinds[index % len(kinds)]], np.random.default_rng([HELD_OUT_SEED, index]))
        for index in range(count)
    ]


def _edit_of_kinds(kinds: Sequence[str], rng: np.random.Generator) -> Edit:
    """An edit of one of `kinds`, on the first new scene that allows one."""
    while True:
        scene = random_starting_scene(rng)
        if set(kinds) & set(possible_kinds(scene)):
            return random_edit(scene, rng, kinds)


def episode(seed: int, kinds: Sequence[str] = EDIT_KINDS) -> list[Edit]:
    """A multi-turn episode: 3-5 chained edits, each starting from the previous truth."""
    rng = np.random.default_rng([HELD_OUT_SEED, 1, seed])
    scene = random_scene(rng)
    edits = []
    for _ in range(int(rng.integers(3, 6))):
        edits.append(random_edit(scene, rng, kinds))
        scene = edits[-1].after
    return edits


def vocabulary(kinds: Sequence[str] = EDIT_KINDS) -> set[str]:
    """Every word an instruction of these edit kinds can contain."""
    fillers = {"shape": " ".join(SHAPE_KINDS), "colour": " ".join(PALETTE)}
    fillers["direction"] = " ".join(DIRECTIONS)
    words = set()
    for kind in kinds:
        for phrasing in PHRASINGS[kind]:
            words.update(phrasing.format(**fillers).split())
    return words
