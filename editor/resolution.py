"""Processing size: models edit at a working size, people want their own size back."""

from __future__ import annotations

from PIL import Image

MAX_WORKING_ASPECT = 4  # the working image is at most 4 times as long as it is wide


def working_size(image_size: tuple[int, int], long_side: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the long side at `long_side`, aspect kept, each side a `multiple`.

    The image is resized to it, never cropped; rounding each side to the multiple the VAE
    needs changes the aspect ratio by at most half a multiple per side. A side shorter than
    a `MAX_WORKING_ASPECT`th of the long side is stretched to that: a 4000×100 banner is
    edited at 512×128 (not 512×8, too thin for the model and the drift check) and comes back
    at 4000×100 with `resize_to`.
    """
    scale = long_side / max(image_size)
    shortest = round(long_side / MAX_WORKING_ASPECT / multiple) * multiple
    width, height = (
        max(multiple, shortest, round(side * scale / multiple) * multiple) for side in image_size
    )
    return width, height


def resize_to(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize an edited image to `size` (width, height), e.g. back to the input's size."""
    return image if image.size == tuple(size) else image.resize(size, Image.Resampling.LANCZOS)
