"""Bad inputs for `benchmarks/reliability.py`, all made here in code: broken and unusual
image files, hostile chat messages, and unusable answers of a vision-language model.

Each bad image is a `Sample`: its bytes and what pixchat should do with it. `expect` is
"refuse" (one sentence, nothing stored), "accept" (decoded, and `check` says whether the
picture came out right), or "either" (a file cut short where the pixels may all be there:
refusing it is right, and so is accepting it when every pixel comes out as the original's).
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

Check = Callable[[Image.Image], bool]


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    expect: Literal["refuse", "accept", "either"]
    check: Check | None = None  # for an accepted picture: does it look as it should?


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def quadrants(size: tuple[int, int] = (48, 32)) -> Image.Image:
    """Four colours in the four corners: any rotation or mirror shows."""
    width, height = size
    image = Image.new("RGB", size, (230, 30, 30))  # top left: red
    image.paste((30, 200, 30), (width // 2, 0, width, height // 2))  # top right: green
    image.paste((30, 30, 230), (0, height // 2, width // 2, height))  # bottom left: blue
    image.paste((240, 240, 40), (width // 2, height // 2, width, height))  # yellow
    return image


def noise(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def looks_like(reference: Image.Image, tolerance: float = 40) -> Check:
    """The decoded picture has `reference`'s size and, corner by corner, its colours."""
    expected = np.asarray(reference.convert("RGB"), dtype=np.float64)

    def check(image: Image.Image) -> bool:
        if image.mode != "RGB" or image.size != reference.size:
            return False
        return float(np.abs(np.asarray(image, dtype=np.float64) - expected).mean()) < tolerance

    return check


def exactly(reference: Image.Image) -> Check:
    expected = np.asarray(reference.convert("RGB"))
    return lambda image: image.size == reference.size and np.array_equal(np.asarray(image),
                                                                          expected)


def sized(width: int, height: int) -> Check:
    return lambda image: image.mode == "RGB" and image.size == (width, height)


# --- hand-made headers ----------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload))


def png(width: int, height: int, bit_depth: int, colour_type: int, pixels: bytes) -> bytes:
    """A PNG from raw scanlines (each already led by its filter byte)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(pixels, 9)) + png_chunk(b"IEND", b""))


def png_bomb(side: int) -> bytes:
    """A 1-bit PNG of side×side black pixels: a few kB that decode to side² pixels."""
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 256) for _ in range(side // 256)]
    data = b"".join(chunks) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b""))


def png_claiming(width: int, height: int) -> bytes:
    """A real 8×8 PNG whose header (with a valid CRC) claims width×height."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8×8 JPEG whose start-of-frame claims width×height."""
    data = bytearray(encode(Image.new("RGB", (8, 8), (90, 90, 90)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    descriptor = data.find(b"\x2c")
    data[descriptor + 5:descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_rle_bomb(width: int, height: int) -> bytes:
    """An 8-bit run-length BMP: each run of 255 pixels is two bytes."""
    runs = b""
    for _ in range(4):  # a few rows; the rest of the picture is left to the decoder
        runs += b"\xff\x00" * (width // 255) + b"\x00\x00"
    runs += b"\x00\x01"  # end of bitmap
    palette = b"\x00\x00\x00\x00" * 256
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(runs), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(runs), 0, 0, offset) + info + palette + runs


def tiff_claiming(width: int, height: int) -> bytes:
    """A deflate TIFF whose tags claim width×height over a few bytes of data."""
    data = zlib.compress(b"\x00" * 4096)
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 8),
               (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, len(data))]
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + data


def webp_claiming(width: int, height: int) -> bytes:
    """A lossless WebP whose header claims width×height (at most 16384 a side)."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "WEBP", lossless=True))
    vp8l = data.find(b"VP8L") + 8 + 1  # after the chunk header and the signature byte
    bits = int.from_bytes(data[vp8l:vp8l + 4], "little")
    bits = (bits & ~0xFFFFFFF) | (width - 1) | ((height - 1) << 14)
    data[vp8l:vp8l + 4] = bits.to_bytes(4, "little")
    return bytes(data)


def with_broken_crc(data: bytes, kind: bytes) -> bytes:
    """A PNG with the CRC of its first `kind` chunk spoiled."""
    start = data.find(kind) - 4
    length = struct.unpack(">I", data[start:start + 4])[0]
    crc = start + 8 + length
    return data[:crc] + bytes([data[crc] ^ 0xFF]) + data[crc + 1:]


def png_with_chunk_length(data: bytes, kind: bytes, length: int) -> bytes:
    start = data.find(kind) - 4
    return data[:start] + struct.pack(">I", length) + data[start + 4:]


def png_with_text_chunk(data: bytes, payload: bytes) -> bytes:
    """`data` with a tEXt chunk inserted right after its header."""
    end_of_header = 8 + 25
    return data[:end_of_header] + png_chunk(b"tEXt", payload) + data[end_of_header:]


# --- orientation ----------------------------------------------------------------------

# What each EXIF orientation asks the viewer to do, as the transpose that undoes a camera's
# way of storing the picture: storing `transpose(picture)` shows `picture`.
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def oriented(fmt: str, orientation: int, **options) -> Sample:
    """A picture stored as a camera in position `orientation` would store it: shown the
    right way up, it is `quadrants()`."""
    picture = quadrants()
    transpose = STORED_AS[orientation]
    stored = picture if transpose is None else picture.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, fmt, exif=exif.tobytes(), **options)
    return Sample(f"{fmt} with EXIF orientation {orientation}", data, "accept",
                  looks_like(picture, tolerance=12))


# --- the image corpus -----------------------------------------------------------------


def bad_images() -> list[Sample]:
    """Every kind of bad or unusual upload, at least sixty."""
    picture = noise()
    samples: list[Sample] = []
    lossless = {
        "PNG": encode(picture, "PNG"),
        "GIF": encode(picture.quantize(256), "GIF"),
        "BMP": encode(picture, "BMP"),
        "TIFF": encode(picture, "TIFF"),
        "WebP": encode(picture, "WEBP", lossless=True),
    }
    lossy = {"JPEG": encode(picture, "JPEG", quality=90)}
    for fmt, data in {**lossless, **lossy}.items():
        for fraction in (0.0005, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95):
            cut = max(1, int(len(data) * fraction))
            samples.append(Sample(f"{fmt} cut at byte {cut} of {len(data)}", data[:cut],
                                  "refuse"))
        # The last byte or two: the pixels may all be there (a PNG's end marker's checksum).
        for missing in (1, 2):
            reference = Image.open(io.BytesIO(data)).convert("RGB")
            samples.append(Sample(f"{fmt} without its last {missing} byte(s)", data[:-missing],
                                  "either", exactly(reference) if fmt in lossless else None))

    png_data = lossless["PNG"]
    samples += [
        Sample("0 bytes", b"", "refuse"),
        Sample("one byte", b"\x89", "refuse"),
        Sample("PNG signature only", png_data[:8], "refuse"),
        Sample("PNG with its first byte wrong", b"\x88" + png_data[1:], "refuse"),
        Sample("PNG with a JPEG's magic bytes", b"\xff\xd8\xff\xe0" + png_data[4:], "refuse"),
        Sample("JPEG with a PNG's magic bytes", b"\x89PNG\r\n\x1a\n" + lossy["JPEG"][8:],
               "refuse"),
        Sample("GIF with a bad version", b"GIF00a" + lossless["GIF"][6:], "refuse"),
        Sample("random bytes", np.random.default_rng(1).bytes(5000), "refuse"),
        Sample("a text file", b"make it winter\n" * 20, "refuse"),
        Sample("an HTML error page", b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
               "refuse"),
        Sample("a PDF", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "refuse"),
        Sample("a zip file", b"PK\x03\x04" + b"\x00" * 100, "refuse"),
        Sample("SVG", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
               b'width="64" height="64"><rect width="64" height="64" fill="red"/></svg>', "refuse"),
        Sample("SVG without an XML declaration",
               b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"></svg>', "refuse"),
        Sample("HEIC (an iPhone photo)", struct.pack(">I", 24) + b"ftypheic\x00\x00\x00\x00"
               b"mif1heic" + b"\x00" * 200, "refuse"),
        Sample("AVIF", struct.pack(">I", 24) + b"ftypavif\x00\x00\x00\x00mif1avif" + b"\x00" * 200,
               "refuse"),
        Sample("an icon file (ICO)", encode(Image.new("RGB", (32, 32), "red"), "ICO"), "refuse"),
        # decompression bombs: a few bytes that would decode to hundreds of megapixels
        Sample("PNG bomb: 1-bit 20000×20000 in a few kB", png_bomb(20_000), "refuse"),
        Sample("PNG header claiming 30000×30000", png_claiming(30_000, 30_000), "refuse"),
        Sample("PNG header claiming 7000×7000 (49 MP)", png_claiming(7_000, 7_000), "refuse"),
        Sample("JPEG frame claiming 65000×65000", jpeg_claiming(65_000, 65_000), "refuse"),
        Sample("GIF screen claiming 65535×65535", gif_claiming(65_535, 65_535), "refuse"),
        Sample("BMP run-length bomb 60000×60000", bmp_rle_bomb(60_000, 60_000), "refuse"),
        Sample("TIFF deflate bomb 50000×50000", tiff_claiming(50_000, 50_000), "refuse"),
        Sample("WebP header claiming 16384×16384", webp_claiming(16_384, 16_384), "refuse"),
        # huge dimensions in a tiny file, under the pixel limit: the pixels are not there
        Sample("PNG header claiming 6000×6000 over 8×8 of data", png_claiming(6_000, 6_000),
               "refuse"),
        Sample("JPEG frame claiming 6000×6000 over 8×8 of data", jpeg_claiming(6_000, 6_000),
               "refuse"),
        Sample("JPEG frame claiming 600×600 over 8×8 of data", jpeg_claiming(600, 600), "refuse"),
        Sample("GIF screen claiming 4000×4000 over 8×8 of data", gif_claiming(4_000, 4_000),
               "refuse"),
        Sample("BMP run-length 6000×6000 with 4 rows of data", bmp_rle_bomb(6_000, 6_000),
               "refuse"),
        Sample("TIFF claiming 6000×6000 over 4 kB of data", tiff_claiming(6_000, 6_000),
               "refuse"),
        # lossless WebP codes one colour in a few bytes at any size: a real, valid picture
        Sample("WebP of one colour, 6000×6000 in 34 bytes", webp_claiming(6_000, 6_000),
               "accept", sized(6_000, 6_000)),
        # bit depths and colour modes that must decode to the right colours
        Sample("16-bit greyscale PNG", encode(Image.fromarray(
            np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (16, 1))), "PNG"), "accept",
            lambda image: image.size == (64, 16) and np.asarray(image)[0, -1, 0] == 255
            and np.asarray(image)[0, 0, 0] == 0),
        Sample("16-bit RGB PNG", png(16, 16, 16, 2, (b"\x00" + b"\xff\xff\x00\x00\x00\x00" * 16)
                                     * 16), "accept",
               looks_like(Image.new("RGB", (16, 16), (255, 0, 0)), tolerance=2)),
        Sample("16-bit greyscale TIFF", encode(Image.fromarray(
            np.full((16, 16), 65535, dtype=np.uint16)), "TIFF"), "accept",
            looks_like(Image.new("RGB", (16, 16), "white"), tolerance=2)),
        Sample("32-bit float TIFF", encode(Image.fromarray(
            np.full((16, 16), 0.5, dtype=np.float32)), "TIFF"), "accept", sized(16, 16)),
        Sample("CMYK JPEG", encode(quadrants().convert("CMYK"), "JPEG", quality=95), "accept",
               looks_like(quadrants())),
        Sample("CMYK TIFF", encode(quadrants().convert("CMYK"), "TIFF"), "accept",
               looks_like(quadrants())),
        Sample("greyscale JPEG", encode(quadrants().convert("L"), "JPEG"), "accept",
               looks_like(quadrants().convert("L"))),
        Sample("1-bit PNG", encode(quadrants().convert("1"), "PNG"), "accept", sized(48, 32)),
        Sample("palette PNG with a transparent colour", _palette_with_transparency("PNG"),
               "accept", _left_red_right_white),
        Sample("palette GIF with a transparent colour", _palette_with_transparency("GIF"),
               "accept", _left_red_right_white),
        Sample("RGBA PNG, half transparent", _half_transparent("PNG"), "accept",
               _left_red_right_white),
        Sample("RGBA WebP, half transparent", _half_transparent("WEBP", lossless=True), "accept",
               _left_red_right_white),
        Sample("greyscale with alpha PNG", encode(Image.new("LA", (16, 16), (0, 0)), "PNG"),
               "accept", looks_like(Image.new("RGB", (16, 16), "white"), tolerance=1)),
        Sample("animated GIF", _animation("GIF"), "accept", _first_frame_red),
        Sample("animated WebP", _animation("WEBP", lossless=True), "accept", _first_frame_red),
        Sample("animated PNG (APNG)", _animation("PNG"), "accept", _first_frame_red),
        Sample("multi-picture JPEG (MPO)", _animation("MPO"), "accept", _first_frame_red),
        Sample("multi-page TIFF", _animation("TIFF"), "accept", _first_frame_red),
        # shapes
        Sample("1×1000 PNG", encode(Image.new("RGB", (1, 1000)), "PNG"), "refuse"),
        Sample("1000×1 PNG", encode(Image.new("RGB", (1000, 1)), "PNG"), "refuse"),
        Sample("1×1 PNG", encode(Image.new("RGB", (1, 1)), "PNG"), "refuse"),
        Sample("7×7 PNG", encode(Image.new("RGB", (7, 7)), "PNG"), "refuse"),
        Sample("8×8 PNG", encode(Image.new("RGB", (8, 8)), "PNG"), "accept", sized(8, 8)),
        Sample("banner 4000×100", encode(Image.new("RGB", (4000, 100)), "PNG"), "accept",
               sized(4000, 100)),
        Sample("extreme banner 20000×8", encode(Image.new("RGB", (20_000, 8)), "PNG"), "accept",
               sized(20_000, 8)),
        Sample("extreme tower 8×20000", encode(Image.new("RGB", (8, 20_000)), "PNG"), "accept",
               sized(8, 20_000)),
        # broken PNG chunks
        Sample("PNG with a broken IHDR checksum", with_broken_crc(png_data, b"IHDR"), "refuse"),
        # a checksum or length that is wrong over intact pixels: refusing is right, and so is
        # showing the pixels, which come out exactly (Pillow does not check IDAT checksums)
        Sample("PNG with a broken IDAT checksum", with_broken_crc(png_data, b"IDAT"), "either",
               exactly(picture)),
        Sample("PNG with a broken IDAT stream", _broken_idat(png_data), "refuse"),
        Sample("PNG whose IDAT length is 2 GB", png_with_chunk_length(png_data, b"IDAT",
                                                                       0x7FFFFFFF), "either",
               exactly(picture)),
        Sample("PNG with a broken text chunk checksum",
               with_broken_crc(png_with_text_chunk(png_data, b"Comment\x00hello"), b"tEXt"),
               "either", exactly(picture)),
        Sample("PNG with a 100 MB zTXt bomb", _ztxt_bomb(png_data), "either", exactly(picture)),
        Sample("PNG without IEND", png_data[:-12], "either", exactly(picture)),
        Sample("PNG with junk after IEND", png_data + b"\x00junk" * 100, "accept",
               exactly(picture)),
        Sample("PNG with an unknown critical chunk", png_data[:33] + png_chunk(b"ABCD", b"x")
               + png_data[33:], "either", exactly(picture)),
    ]
    samples += [oriented("JPEG", orientation, quality=95) for orientation in STORED_AS]
    samples += [oriented("PNG", 6), oriented("WEBP", 8, lossless=True), oriented("TIFF", 3)]
    return samples


def _palette_with_transparency(fmt: str) -> bytes:
    image = Image.new("P", (16, 16), 1)
    image.putpalette([0, 0, 0, 230, 30, 30] + [0] * 762)
    image.paste(0, (8, 0, 16, 16))
    return encode(image, fmt, transparency=0)


def _half_transparent(fmt: str, **options) -> bytes:
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    image.paste((230, 30, 30, 255), (0, 0, 8, 16))
    return encode(image, fmt, **options)


def _left_red_right_white(image: Image.Image) -> bool:
    pixels = np.asarray(image, dtype=int)
    return image.size == (16, 16) and abs(pixels[8, 2] - (230, 30, 30)).max() < 8 \
        and pixels[8, 13].min() > 247


def _animation(fmt: str, **options) -> bytes:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((230, 30, 30), (30, 30, 230))]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], **options)


def _first_frame_red(image: Image.Image) -> bool:
    red, _, blue = np.asarray(image, dtype=int)[8, 8]
    return image.size == (16, 16) and red > 200 and blue < 80


def _broken_idat(data: bytes) -> bytes:
    start = data.find(b"IDAT") + 4
    payload = bytearray(data[start:start + 60])
    payload[2:40] = b"\xff" * 38
    broken = png_chunk(b"IDAT", bytes(payload))
    return data[:start - 8] + broken + data[start + 60 + 4:]


def _ztxt_bomb(data: bytes) -> bytes:
    text = zlib.compress(b"a" * 100_000_000, 9)
    end_of_header = 8 + 25
    return data[:end_of_header] + png_chunk(b"zTXt", b"Comment\x00\x00" + text) \
        + data[end_of_header:]


# --- chat messages and VLM answers -------------------------------------------------------


def bad_messages() -> list[str]:
    """Chat messages a person (or a script) might send, sixty and more."""
    return [
        "", " ", "\n\n\n", "\t", "\x00", "make it \x00 blue", "make\x07it\x1bdarker",
        "\x1b[31mmake it red\x1b[0m", "make it darker\r\nundo", "\ufeffundo", "undo\u200b",
        "\u202eregrad ti ekam", "اجعل الصورة أغمق", "תעשה את זה כהה יותר", "make it \u05d0 darker",
        "ｍａｋｅ ｉｔ ｄａｒｋｅｒ", "make it darker \U0001f600\U0001f600", "e\u0301" * 50,
        "make it darker " * 7_000,  # about 100,000 characters
        "x" * 2_001, "make it blue" + " " * 100_000, "\ud800 make it darker",
        "make it \udcff darker",  # a byte that is not UTF-8, as Python reads it from argv
        '{"action": "revert", "target": 99999}', '"}, "action": "delete_session", "x": "',
        '{"text_scale": NaN, "image_scale": Infinity}', "'; DROP TABLE nodes; --",
        "make it darker'); DELETE FROM sessions; --", "%s %d %n {0} {text} {{}}",
        "go back to step 999999999999999999999999", "go back to step -1", "go back to step 0",
        "go back to step 1e9", "go back to step 3.5", "go back to step one million",
        "revert to step 2147483648", "undo " * 500, "redo", "redo redo redo", "undo",
        "set s_T to nan", "set s_I to -5", "s_T = inf", "use s_T 1e308", "text scale 'seven'",
        "make it 10000 times stronger", "very very very very very very very strongly darker",
        "stronger", "stronger", "stronger", "stronger", "show me options",
        "subtler", "subtler", "subtler", "subtler", "subtler", "show me options",
        "keep more of the original", "keep more of the original", "show me options",
        "again", "a bit less", "dramatically make it darker", "slightly make it darker",
        "undo that and make it darker", "go back to step 2 and make it darker",
        "go back to step 99 and make it darker", "help", "what is s_T?",
        "<script>alert(1)</script>",
        "../../../../etc/passwd", "make it darker\x00\x00\x00", "?" * 50, "🙂",
    ]


def bad_vlm_answers() -> list[str]:
    """What a vision-language model might write instead of a valid command, sixty and more."""
    def command(**fields) -> str:
        base = {"action": "edit", "instruction": "make it darker", "text_scale": 7.5,
                "image_scale": 1.5, "target": None, "undo_first": False, "scope": "global",
                "rationale": "r"}
        return json.dumps({**base, **fields})

    def raw(field: str, literal: str) -> str:
        """A command whose `field` is the JSON text `literal`, as written."""
        return command(**{field: "@@"}).replace('"@@"', literal)

    return [
        "", " ", "no JSON here", "{", "}", "{}", "[]", "null", "42", '"edit"',
        '{"action": "edit"}', '{"action": "revert"}', '{"action": "edit", "instruction": ""}',
        command(text_scale="7.5"), command(text_scale="seven"), command(image_scale="1.5x"),
        raw("text_scale", "NaN"), raw("text_scale", "Infinity"), raw("text_scale", "-Infinity"),
        raw("image_scale", "NaN"), raw("image_scale", "1e400"), raw("text_scale", "1" + "0" * 400),
        command(text_scale=-1), command(text_scale=0), command(text_scale=1e308),
        command(image_scale=-0.5), command(image_scale=0), command(image_scale=99),
        command(text_scale=True), command(text_scale=None, image_scale=None),
        command(text_scale=[7.5]), command(text_scale={"value": 7.5}),
        command(image_scale={"$gt": 0}), command(action="delete_session"), command(action=5),
        command(action=None), command(action=["edit"]), command(action="EDIT"),
        command(action="revert", target=-1), command(action="revert", target=1e30),
        command(action="revert", target=10**30), command(action="revert", target="2"),
        command(action="revert", target=2.5), command(action="revert", target=999_999),
        command(action="revert", target=None), command(instruction="x" * 100_000),
        command(instruction="make it\x00 darker"), command(instruction="\ud800"),
        command(instruction=123), command(instruction={"text": "darker"}),
        command(instruction=["make", "it", "darker"]), command(scope="universe"),
        command(undo_first="yes"), command(rationale=None), command(extra={"a": [1, 2]}),
        command(action="clarify", rationale="which one?"),
        '{"action": "edit", "action": "undo"}',
        '{"action": "edit", "instruction": "make it darker", "text_scale": 7.5',
        '```json\n' + command() + '\n```', "Sure! " + command() + " Hope that helps.",
        '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "[" * 100_000, "{" * 100_000, '{"action": "edit", "instruction": "' + "\\u0000" * 10 + '"}',
        command(target=5, action="edit"), command(action="options", text_scale=1e9),
        command(action="refine", text_scale=-7, image_scale=1e9),
    ]
