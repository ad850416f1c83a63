"""Reading the pictures people upload, safely.

Every way an image enters pixchat (the CLI, the app's upload, an imported session) goes
through `load_image`. It returns a plain 8-bit RGB image with the EXIF orientation applied,
or raises `ImageError` with one sentence that says what is wrong and what to do.

Transparency: alpha is composited on white, since the editors work on RGB. A transparent
logo therefore comes back on a white background.

A file that starts like a format pixchat reads but does not decode is called damaged; one of a
format it does not read (SVG, HEIC, AVIF, PDF) is named, with what to export instead.
`benchmarks/reliability.py` feeds this function well over a hundred kinds of bad files.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000
MIN_SIDE = 8
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
# How the formats pixchat reads begin (WebP: RIFF, then its size, then WEBP).
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
              b"MM\x00*")
# What an ISO media file (HEIC, AVIF) names itself after its "ftyp" box header.
ISO_BRANDS = {b"heic": "a HEIC photo", b"heix": "a HEIC photo", b"hevc": "a HEIC photo",
              b"mif1": "a HEIF picture", b"msf1": "a HEIF picture", b"avif": "an AVIF picture",
              b"avis": "an AVIF picture"}


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
    damaged = f"{name} is damaged or cut short; export it again and re-upload."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's "Truncated File Read" and the like
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            # The header is read, the pixels are not: check the size before decoding.
            _check_size(image.size, name, max_pixels, min_side)
            if _too_short_for_its_size(image, len(data)):
                raise ImageError(damaged)
            image.seek(0)  # first frame of an animation
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} is above the pixel limit; downscale it first.") from None
    except UnidentifiedImageError:
        raise ImageError(_unreadable(data, name, damaged)) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageError(damaged) from None
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


def _unreadable(data: bytes, name: str, damaged: str) -> str:
    """Why Pillow could not identify `data`: damaged, of a named format pixchat does not
    read, or no image at all."""
    head = data[:1024].lstrip().lower()
    if data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return damaged
    if data[4:8] == b"ftyp" and (kind := ISO_BRANDS.get(data[8:12])):
        return f"{name} is {kind}, which pixchat cannot read; export it as JPEG or PNG first."
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return f"{name} is an SVG drawing, which pixchat cannot read; export it as PNG first."
    if data.startswith(b"%PDF"):
        return f"{name} is a PDF document, not a picture; export the page as PNG or JPEG first."
    return (f"{name} is not an image pixchat can read; use a PNG, JPEG, WebP, GIF, BMP or "
            "TIFF file.")


def _too_short_for_its_size(image: Image.Image, byte_count: int) -> bool:
    """A JPEG too small to hold its pixels: its decoder fills what is missing with grey
    instead of failing. Every 8×8 block of a JPEG takes at least one bit."""
    width, height = image.size
    return image.format in ("JPEG", "MPO") and byte_count * 8 < -(-width // 8) * -(-height // 8)


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
