"""The photo world: real photographs and colour edits with exact ground truth at any size.

Every edit is a per-pixel affine colour transform, `after = clip(A @ rgb + b)` on RGB in
0..1, so the exact result of an instruction can be computed for a 32-pixel crop and for the
full-size photo alike. An edit kind (warmer, sepia, night, ...) is its full-strength
transform; an intensity word moves the transform towards or past it from the identity:
"slightly warmer" is half of "warmer", "much warmer" 1.6 times it.

Training photos are the colour photographs scikit-image ships (plus a few of its greyscale
ones, given a random colour cast), multiplied by random crops, scales, flips and colour
jitter. scikit-learn's two sample photos (`china.jpg`, `flower.jpg`) are the held-out test
and never enter the training stream.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# The training crops' side; the model works with the long side at this size. Colour edits
# are per-pixel and low-frequency, and compositing carries them to full size: the exact edit
# made at 16 px and composed reaches 0.06 x doing nothing or better for every kind.
SIZE = 16
SOURCE_LONG_SIDE = 256  # training photos are reduced to this once (crops come out of it)
COLOUR_PHOTOS = (
    "astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
    "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg",
)
GREY_PHOTOS = ("camera.png", "brick.png", "grass.png", "gravel.png", "moon.png", "coins.png")
HELD_OUT_PHOTOS = ("china.jpg", "flower.jpg")  # scikit-learn's: the test, never trained on
HELD_OUT_SEED = 20_251_202

LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights: grey = LUMA @ rgb
IDENTITY = np.hstack([np.eye(3), np.zeros((3, 1))])  # a transform is a 3x4 matrix [A | b]

# Intensity words: how far from the identity towards (or past) the kind's transform.
STRENGTHS = {"slight": 0.5, "normal": 1.0, "strong": 1.6}
BEFORE_WORDS = {"slight": ("slightly", "a bit", "a little"), "normal": ("",),
                "strong": ("much", "a lot", "far")}
AFTER_WORDS = {"slight": ("a bit", "a little", "slightly"), "normal": ("",),
               "strong": ("a lot", "strongly")}
TINTS = {
    "red": (1.0, 0.25, 0.2), "green": (0.3, 1.0, 0.3), "blue": (0.25, 0.4, 1.0),
    "yellow": (1.0, 0.9, 0.2), "orange": (1.0, 0.55, 0.15), "purple": (0.65, 0.3, 1.0),
    "pink": (1.0, 0.45, 0.7), "cyan": (0.2, 0.9, 1.0),
}
TINT_AMOUNT = 0.35


def affine(matrix: Sequence[Sequence[float]] | np.ndarray,
           offset: Sequence[float] | np.ndarray = (0, 0, 0)) -> np.ndarray:
    """The 3x4 transform [A | b] of `rgb -> A @ rgb + b`."""
    return np.hstack([np.asarray(matrix, dtype=float), np.asarray(offset, float)[:, None]])


def then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The transform that applies `first`, then `second`."""
    matrix = second[:, :3] @ first[:, :3]
    return affine(matrix, second[:, :3] @ first[:, 3] + second[:, 3])


def gains(red: float, green: float, blue: float) -> np.ndarray:
    """Scale each channel."""
    return affine(np.diag([red, green, blue]))


def saturation(amount: float) -> np.ndarray:
    """Mix each pixel with its grey: 0 is black and white, 1 unchanged, above 1 more vivid."""
    return affine(amount * np.eye(3) + (1 - amount) * np.outer(np.ones(3), LUMA))


def contrast(amount: float, pivot: float = 0.5) -> np.ndarray:
    """Stretch (amount > 1) or squeeze (< 1) every channel around `pivot`."""
    return affine(amount * np.eye(3), np.full(3, (1 - amount) * pivot))


def towards_white(amount: float) -> np.ndarray:
    """Move every channel `amount` of the way to white."""
    return affine((1 - amount) * np.eye(3), np.full(3, amount))


def tint(colour: Sequence[float]) -> np.ndarray:
    """Mix each pixel with its grey shown in `colour` (a colour wash that keeps the light)."""
    wash = np.outer(colour, LUMA) / (LUMA @ np.asarray(colour))
    return affine((1 - TINT_AMOUNT) * np.eye(3) + TINT_AMOUNT * wash)


SEPIA = affine([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


@dataclass(frozen=True)
class Kind:
    """An edit kind: its full-strength transform, whether it takes intensity words, and how
    people ask for it. A phrasing marks where intensity words go with {before} ("make it
    {before} warmer") or {after} ("warm it up {after}"); tints name a {colour}."""

    transform: np.ndarray
    graded: bool
    phrasings: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "black and white": Kind(saturation(0.0), False, (
        "make it black and white", "black and white", "convert to black and white",
        "make it greyscale", "make it grayscale", "remove the colour", "make it monochrome",
        "desaturate it completely")),
    "sepia": Kind(SEPIA, False, (
        "make it sepia", "sepia", "give it a sepia tone", "apply a sepia filter",
        "make it look like an old sepia photo")),
    "warmer": Kind(gains(1.12, 1.0, 0.84), True, (
        "make it {before} warmer", "{before} warmer", "warm it up {after}",
        "make the colours {before} warmer", "give it a warmer tone {after}",
        "make the photo {before} warmer")),
    "cooler": Kind(gains(0.86, 1.0, 1.14), True, (
        "make it {before} cooler", "{before} cooler", "cool it down {after}",
        "make the colours {before} cooler", "give it a cooler tone {after}",
        "make the photo {before} colder")),
    "brighter": Kind(towards_white(0.3), True, (
        "make it {before} brighter", "{before} brighter", "brighten it {after}",
        "brighten the photo {after}", "make the photo {before} lighter", "lighten it {after}")),
    "darker": Kind(gains(0.7, 0.7, 0.7), True, (
        "make it {before} darker", "{before} darker", "darken it {after}",
        "darken the photo {after}", "make the photo {before} darker", "dim it {after}")),
    "more contrast": Kind(contrast(1.35), True, (
        "{before} more contrast", "increase the contrast {after}", "boost the contrast {after}",
        "add contrast {after}", "make it {before} more contrasty", "make it {before} punchier")),
    "less contrast": Kind(contrast(0.65), True, (
        "{before} less contrast", "reduce the contrast {after}", "lower the contrast {after}",
        "make it {before} flatter", "soften the contrast {after}",
        "decrease the contrast {after}")),
    "more saturated": Kind(saturation(1.5), True, (
        "make it {before} more saturated", "{before} more saturated",
        "boost the colours {after}", "make the colours {before} more vivid",
        "increase the saturation {after}", "make it {before} more colourful")),
    "less saturated": Kind(saturation(0.5), True, (
        "make it {before} less saturated", "{before} less saturated",
        "mute the colours {after}", "make the colours {before} duller",
        "reduce the saturation {after}", "desaturate it {after}")),
    "tint": Kind(IDENTITY, True, (  # its transform depends on the colour: see `transform`
        "give it a {colour} tint {after}", "tint it {colour} {after}",
        "add a {colour} tint {after}", "make it {before} more {colour}",
        "give the photo a {colour} cast {after}", "wash it in {colour} {after}")),
    "night": Kind(then(saturation(0.6), affine(np.diag([0.3, 0.38, 0.6]), [0, 0.01, 0.05])),
                  False, (
        "make it night", "turn it into night", "make it look like night",
        "night time", "make it a night scene", "turn day into night")),
    "golden hour": Kind(then(gains(1.15, 1.0, 0.72), affine(np.eye(3), [0.06, 0.03, 0.0])),
                        False, (
        "make it golden hour", "golden hour", "give it golden hour light",
        "make it look like sunset light", "add a warm golden glow", "make the light golden")),
    "faded": Kind(then(then(saturation(0.6), contrast(0.7)), gains(1.04, 1.0, 0.9)), False, (
        "make it look faded", "make it vintage", "give it a faded look", "vintage look",
        "make it look like an old faded photo", "fade the colours", "give it a retro look")),
    "invert": Kind(affine(-np.eye(3), [1, 1, 1]), False, (
        "invert the colours", "invert it", "make it a negative", "invert the image",
        "turn it into a negative", "invert")),
}


@dataclass(frozen=True)
class Edit:
    """An instruction and the exact colour transform it asks for."""

    kind: str
    strength: str  # a key of STRENGTHS
    instruction: str
    transform: np.ndarray  # 3x4 [A | b] on RGB in 0..1

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """The exact result for an (H, W, 3) uint8 or float 0..255 image, as uint8."""
        return apply_transform(self.transform, pixels)


@dataclass(frozen=True)
class Example:
    """An edit with a photo before it and the exact photo after it, (H, W, 3) uint8."""

    edit: Edit
    before: np.ndarray
    after: np.ndarray

    @property
    def kind(self) -> str:
        return self.edit.kind

    @property
    def instruction(self) -> str:
        return self.edit.instruction


def apply_transform(transform: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Apply a 3x4 colour transform to an (H, W, 3) image on the 0..255 scale; uint8 out."""
    rgb = np.asarray(pixels, dtype=np.float64) / 255
    out = rgb @ transform[:, :3].T + transform[:, 3]
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def transform(kind: str, strength: str = "normal", colour: str | None = None) -> np.ndarray:
    """The exact transform of a kind at an intensity (tints also need their colour)."""
    if kind == "tint" and colour not in TINTS:
        raise ValueError(f"A tint needs one of the colours {', '.join(TINTS)}, not {colour!r}.")
    full = tint(TINTS[colour]) if kind == "tint" and colour else KINDS[kind].transform
    return IDENTITY + STRENGTHS[strength] * (full - IDENTITY)


def make_edit(kind: str, rng: np.random.Generator, strength: str | None = None) -> Edit:
    """An edit of `kind` with a random phrasing, intensity (unless given) and tint colour."""
    spec = KINDS[kind]
    if strength is None:
        strength = str(rng.choice(list(STRENGTHS))) if spec.graded else "normal"
    colour = str(rng.choice(list(TINTS))) if kind == "tint" else None
    phrasing = str(rng.choice(spec.phrasings))
    words = {"before": str(rng.choice(BEFORE_WORDS[strength])),
             "after": str(rng.choice(AFTER_WORDS[strength])), "colour": colour or ""}
    instruction = " ".join(phrasing.format(**words).split())
    return Edit(kind, strength, instruction, transform(kind, strength, colour))


def vocabulary(kinds: Sequence[str] = tuple(KINDS)) -> set[str]:
    """Every word an instruction of these edit kinds can contain."""
    words = set()
    fillers = [{"before": " ".join(b), "after": " ".join(a), "colour": colour}
               for b, a in zip(BEFORE_WORDS.values(), AFTER_WORDS.values(), strict=True)
               for colour in TINTS]
    for kind in kinds:
        for phrasing in KINDS[kind].phrasings:
            for filler in fillers:
                words.update(phrasing.format(**filler).split())
    return words


def repertoire(kinds: Sequence[str] = tuple(KINDS)) -> dict:
    """What a model of this world can do, for its pixchat.json: the kinds (all, or those it
    learned well enough to offer), their phrasings, and every word they use."""
    return {"summary": "changes the colours and light of a photo: " + ", ".join(kinds),
            "kinds": {kind: list(KINDS[kind].phrasings) for kind in kinds},
            "intensities": {strength: list(words) for strength, words in BEFORE_WORDS.items()
                            if strength != "normal"},
            "colours": list(TINTS) if "tint" in kinds else [],
            "words": sorted(vocabulary(kinds))}


# --- photos ------------------------------------------------------------------------------


def _package_folder(package: str) -> Path:
    """Where an installed package's files are, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The package {package} is not installed.")
    return Path(list(spec.submodule_search_locations)[0])


@functools.cache
def training_photos() -> tuple[np.ndarray, ...]:
    """The training photos as uint8 RGB arrays, long side at most SOURCE_LONG_SIDE; greyscale
    ones come as three equal channels (training gives them a colour cast)."""
    folder = _package_folder("skimage") / "data"
    photos = []
    for name in COLOUR_PHOTOS + GREY_PHOTOS:
        image = Image.open(folder / name).convert("RGB")
        image.thumbnail((SOURCE_LONG_SIDE, SOURCE_LONG_SIDE), Image.Resampling.LANCZOS)
        photos.append(np.asarray(image))
    return tuple(photos)


def sample_photo() -> Image.Image:
    """The app's sample photo: scikit-image's cat (chelsea.png), at its own size."""
    return Image.open(_package_folder("skimage") / "data" / "chelsea.png").convert("RGB")


def held_out_photo(name: str) -> Image.Image:
    """One of scikit-learn's sample photos at its own size (the test; never trained on)."""
    if name not in HELD_OUT_PHOTOS:
        raise ValueError(f"Held-out photos are {', '.join(HELD_OUT_PHOTOS)}, not {name!r}.")
    path = _package_folder("sklearn") / "datasets" / "images" / name
    return Image.open(path).convert("RGB")


def random_view(photo: np.ndarray, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A random square crop (a quarter of the short side up to all of it) of `photo`, scaled
    to `size`, maybe mirrored, with random colour jitter; (size, size, 3) uint8."""
    height, width = photo.shape[:2]
    side = int(rng.uniform(0.25, 1.0) * min(height, width))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(photo[top:top + side, left:left + side])
    view = np.asarray(crop.resize((size, size), Image.Resampling.BOX), dtype=np.float64)
    if rng.random() < 0.5:
        view = view[:, ::-1]
    return apply_transform(colour_jitter(rng), view)


def colour_jitter(rng: np.random.Generator) -> np.ndarray:
    """A mild random change of exposure, contrast, saturation and colour balance."""
    return then(then(saturation(rng.uniform(0.7, 1.3)), contrast(rng.uniform(0.8, 1.2))),
                affine(np.diag(rng.uniform(0.8, 1.2) * rng.uniform(0.9, 1.1, 3)),
                       np.full(3, rng.uniform(-0.05, 0.05))))


def random_colours(seed: int | Sequence[int], count: int, size: int = SIZE) -> np.ndarray:
    """`count` pictures of random colours from anywhere in the RGB cube, (count, size, size, 3)
    uint8: smooth colour fields mixed with per-pixel noise in random proportion. The
    autoencoder learns on them beside the photos, so it reproduces the colours of any photo,
    not only those of the dozen it trains on."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, 4, 4, 3)).astype(np.uint8)
    fields = np.stack([np.asarray(Image.fromarray(one).resize((size, size),
                                                              Image.Resampling.BILINEAR))
                       for one in coarse]).astype(np.float64)
    noise = rng.uniform(0, 255, (count, size, size, 3))
    share = rng.uniform(0, 1, (count, 1, 1, 1))
    return (fields + share * (noise - fields)).round().astype(np.uint8)


def training_examples(seed: int | Sequence[int], count: int, size: int = SIZE,
                      kinds: Sequence[str] = tuple(KINDS)) -> list[Example]:
    """`count` training examples; the same seed gives the same examples (as in world.py,
    training draws a seed per step, so a run can resume at any step). A kind listed twice in
    `kinds` is drawn twice as often."""
    rng = np.random.default_rng(seed)
    photos = training_photos()
    examples = []
    for _ in range(count):
        before = random_view(photos[int(rng.integers(len(photos)))], rng, size)
        edit = make_edit(str(rng.choice(list(kinds))), rng)
        examples.append(Example(edit, before, edit.apply(before)))
    return examples


def held_out_edits(count: int, kinds: Sequence[str] = tuple(KINDS)) -> list[Edit]:
    """The fixed evaluation edits: edit i is always the same, kinds take turns."""
    return [make_edit(kinds[index % len(kinds)], np.random.default_rng([HELD_OUT_SEED, index]))
            for index in range(count)]


def held_out_examples(count: int, size: int = SIZE, kinds: Sequence[str] = tuple(KINDS)
                      ) -> list[Example]:
    """Held-out edits of the held-out photos (alternating), each shrunk whole to `size` on its
    long side: the quick check during training."""
    examples = []
    for index, edit in enumerate(held_out_edits(count, kinds)):
        photo = held_out_photo(HELD_OUT_PHOTOS[index % len(HELD_OUT_PHOTOS)])
        scale = size / max(photo.size)
        small = photo.resize((round(photo.width * scale) // 4 * 4,
                              round(photo.height * scale) // 4 * 4), Image.Resampling.BOX)
        before = np.asarray(small)
        examples.append(Example(edit, before, edit.apply(before)))
    return examples
