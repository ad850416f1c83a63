"""Reading the pictures people upload, safely.

Every way an image enters pixchat (the CLI, the app's upload, an imported session) goes
through `load_image`. It returns a plain 8-bit RGB image with the EXIF orientation applied,
or raises `ImageError` with one sentence that says what is wrong and what to do.

Transparency: alpha is composited on white, since the editors work on RGB. A transparent
logo therefore comes back on a white background.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000
MIN_SIDE = 8
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")


class ImageError(ValueError):
    """An upload that cannot be used as an image; the message is meant for the person."""


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = MIN_SIDE,
) -> Image.Image:
    """Decode `source` (a path or the file's bytes) into an RGB image, checking it first."""
    name = Path(source).name if isinstance(source, str | Path) else "the upload"
    data = _read_bytes(source, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            # The header is read, the pixels are not: check the size before decoding.
            _check_size(image.size, name, max_pixels, min_side)
            image.seek(0)  # first frame of an animation
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} is above the pixel limit; downscale it first.") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name} is not an image pixchat can read; use a PNG, JPEG, WebP, GIF, BMP or "
            "TIFF file."
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError(
            f"{name} is damaged or cut short; export it again and re-upload."
        ) from None
    image = ImageOps.exif_transpose(image)
    _check_size(image.size, name, max_pixels, min_side)
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode (L, P, CMYK, 16-bit, with or without alpha) to 8-bit RGB on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: keep the top 8 bits of the full range.
        import numpy as np  # only here: the session commands start without it

        pixels = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if pixels.max() > 255 else 255.0
        image = Image.fromarray((pixels * 255.0 / peak).round().astype(np.uint8), mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def to_png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG (lossless; how pixchat stores every image state)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _read_bytes(source: str | Path | bytes, name: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ImageError(f"{source} does not exist; check the path.") from None
        except IsADirectoryError:
            raise ImageError(f"{source} is a folder, not an image file.") from None
        except OSError as error:
            raise ImageError(f"{source} cannot be read ({error.strerror}).") from None
    if not data:
        raise ImageError(f"{name} is empty (0 bytes); choose the image file again.")
    return data


def _check_size(size: tuple[int, int], name: str, max_pixels: int, min_side: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"{name} is {width}×{height} ({width * height / 1e6:.0f} MP), above the "
            f"{max_pixels / 1e6:.0f} MP limit; downscale it first."
        )
    if min(width, height) < min_side:
        raise ImageError(
            f"{name} is only {width}×{height} pixels; use an image at least "
            f"{min_side}×{min_side}."
        )
