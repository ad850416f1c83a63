"""Showing stored images: resized for where they appear, always as lossless PNG, and
with a region (what an edit changed, or may change) marked over them.

Small images (the demo model's 32×32 scenes) are enlarged by a whole factor so their pixels
stay sharp; large photos are shrunk, so a page of thumbnails stays light.
"""

from __future__ import annotations

import io

import streamlit as st
from PIL import Image

from editor.images import to_png_bytes

SHOWN_SIDE = 768  # the long side of a full-width image, in pixels
TINT = (255, 40, 160)  # the colour laid over a region that changed or may change
TINT_STRENGTH = 0.4  # how much of the tint shows over the changed pixels
DIMMED = 0.35  # how bright the rest of the image stays


def picture(png: bytes, caption: str | None = None, width: int | None = None) -> None:
    """Show the stored image `png` at its column's width, or `width` pixels wide."""
    side = SHOWN_SIDE if width is None else 2 * width  # twice: sharp on high-density screens
    st.image(for_display(png, side), caption=caption, width=width or "content",
             output_format="PNG")  # st.image would re-encode it as a lossy JPEG


def for_display(png: bytes, side: int) -> bytes:
    """`png` resized to fit a `side`-pixel box: enlarged by a whole factor, or shrunk."""
    image = Image.open(io.BytesIO(png))
    long_side = max(image.size)
    if long_side > side:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return to_png_bytes(image)
    factor = side // long_side
    if factor < 2:
        return png
    size = (image.width * factor, image.height * factor)
    return to_png_bytes(image.resize(size, Image.Resampling.NEAREST))


def region_overlay(png: bytes, mask_png: bytes) -> bytes:
    """`png` with the region that `mask_png` (a greyscale PNG of the same size) marks white
    tinted and the rest dimmed; a grey mask border blends the two."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    mask = Image.open(io.BytesIO(mask_png)).convert("L")
    tinted = Image.blend(image, Image.new("RGB", image.size, TINT), TINT_STRENGTH)
    dimmed = Image.eval(image, lambda value: round(value * DIMMED))
    return to_png_bytes(Image.composite(tinted, dimmed, mask))
