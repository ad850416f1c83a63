"""Processing size: models edit at a working size, people want their own size back."""

from __future__ import annotations

from PIL import Image


def working_size(image_size: tuple[int, int], long_side: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the long side at `long_side`, aspect kept, each side a `multiple`.

    The image is resized to it, never cropped; rounding each side to the multiple the VAE
    needs changes the aspect ratio by at most half a multiple per side.
    """
    scale = long_side / max(image_size)
    width, height = (
        max(multiple, round(side * scale / multiple) * multiple) for side in image_size
    )
    return width, height


def resize_to(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize an edited image to `size` (width, height), e.g. back to the input's size."""
    return image if image.size == tuple(size) else image.resize(size, Image.Resampling.LANCZOS)
