"""Uploads: every common format and mode decodes to RGB; every bad file gets one sentence."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from editor.images import ImageError, load_image, to_png_bytes

RED = (230, 31, 31)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def half_red_half_blue(mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", (40, 20), (38, 64, 242))
    image.paste(Image.new("RGB", (20, 20), RED), (0, 0))
    return image.convert(mode)


def noise(width: int, height: int) -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_format_decodes_to_rgb_with_its_colours(fmt):
    image = load_image(encode(half_red_half_blue(), fmt))
    assert image.mode == "RGB" and image.size == (40, 20)
    left = np.asarray(image)[:, :15].reshape(-1, 3).mean(axis=0)
    assert np.abs(left - RED).max() < 25  # lossy formats are close, not exact


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "CMYK"])
def test_common_modes_decode_to_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image = load_image(encode(half_red_half_blue(mode), fmt))
    assert image.mode == "RGB" and image.size == (40, 20)


def test_sixteen_bit_greyscale_keeps_its_range():
    ramp = np.tile(np.linspace(0, 65535, 32, dtype=np.uint16), (16, 1))
    image = load_image(encode(Image.fromarray(ramp), "PNG"))
    row = np.asarray(image)[0, :, 0]
    assert row[0] == 0 and row[-1] == 255 and np.all(np.diff(row.astype(int)) >= 0)


def test_transparency_is_composited_on_white():
    rgba = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    rgba.paste(Image.new("RGBA", (8, 16), (*RED, 255)), (0, 0))
    pixels = np.asarray(load_image(encode(rgba, "PNG")))
    assert tuple(pixels[0, 0]) == RED
    assert tuple(pixels[0, 15]) == (255, 255, 255)


def test_animated_gif_uses_its_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, (38, 64, 242))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    pixel = np.asarray(load_image(data))[8, 8]
    assert pixel[0] > 200 and pixel[2] < 80


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(half_red_half_blue(), "JPEG", exif=exif.tobytes())
    image = load_image(data)
    assert image.size == (20, 40)
    top = np.asarray(image)[:10].reshape(-1, 3).mean(axis=0)
    assert top[0] > 180  # the red half, once on the left, is now on top


def test_png_round_trip_is_lossless():
    image = half_red_half_blue()
    assert np.array_equal(np.asarray(load_image(to_png_bytes(image))), np.asarray(image))


def test_reads_from_a_path(tmp_path):
    path = tmp_path / "photo.webp"
    path.write_bytes(encode(half_red_half_blue(), "WEBP", lossless=True))
    assert load_image(path).size == (40, 20)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"make it winter\n", "not an image pixchat can read"),
        (b"%PDF-1.4 this is not a picture", "is a PDF document, not a picture"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
         "is an SVG drawing, which pixchat cannot read"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
         "is a HEIC photo, which pixchat cannot read; export it as JPEG"),
        (encode(noise(64, 64), "PNG")[:2000], "damaged"),
        (encode(noise(64, 64), "PNG")[:20], "damaged"),  # too short for Pillow to name it
        (encode(Image.new("RGB", (1, 1)), "PNG"), "at least"),
    ],
    ids=["empty", "not-an-image", "pdf", "svg", "heic", "truncated", "cut-in-its-header",
         "one-pixel"],
)
def test_bad_files_get_one_sentence(data, words):
    with pytest.raises(ImageError) as caught:
        load_image(data)
    message = str(caught.value)
    assert words in message and message.count(". ") == 0 and "\n" not in message


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height but which carries almost no pixel data."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "PNG"))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_pixel_limit_is_checked_before_decoding():
    # Decoding this file would fail as damaged; refusing it for its size proves that the
    # check ran on the header alone.
    with pytest.raises(ImageError, match="above the 40 MP limit"):
        load_image(png_header_claiming(7_000, 7_000))
    with pytest.raises(ImageError, match="above the 2 MP limit"):
        load_image(png_header_claiming(2_000, 2_000), max_pixels=2_000_000)


def test_a_jpeg_too_small_for_its_size_is_damaged_not_grey():
    # Its frame claims 600×600 over one 8×8 block of data; the decoder would fill the rest
    # with grey instead of failing.
    data = bytearray(encode(Image.new("RGB", (8, 8), (90, 90, 90)), "JPEG"))
    frame = data.find(b"\xff\xc0")
    data[frame + 5:frame + 9] = struct.pack(">HH", 600, 600)
    with pytest.raises(ImageError, match="damaged or cut short"):
        load_image(bytes(data))
    flat = encode(Image.new("RGB", (600, 600), (90, 90, 90)), "JPEG", optimize=True)
    assert load_image(flat).size == (600, 600)  # a real flat JPEG of that size is fine


def test_decompression_bombs_are_refused():
    with pytest.raises(ImageError, match="pixel limit"):
        load_image(png_header_claiming(30_000, 30_000))


def test_missing_file_says_so(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.png")
