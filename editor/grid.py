"""The options grid: one image edited with every (s_T, s_I) pair, shown as a contact sheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from .base import EditResult, ModelDefaults
from .resolution import resize_to

CELL_SIZE = 256  # long side of each image on the sheet, in pixels
GAP = 6
FONT_SIZE = 18


@dataclass
class GridResult:
    """`results[row][column]` is the edit with `text_scales[row]` and `image_scales[column]`."""

    results: list[list[EditResult]]
    sheet: Image.Image  # rows s_T, columns s_I, labelled
    text_scales: list[float]
    image_scales: list[float]


def default_grid_scales(defaults: ModelDefaults) -> tuple[list[float], list[float]]:
    """A 3×3 spread around a model's recommended scales (IP2P: s_T 5, 7.5, 10 × s_I 1, 1.5, 2);
    for a model without image guidance, the three s_T values and no s_I."""
    text_scales = [round(defaults.text_scale * factor, 2) for factor in (2 / 3, 1, 4 / 3)]
    if not defaults.image_guidance:
        return text_scales, []
    image_scales = [round(max(0.0, defaults.image_scale + step), 2) for step in (-0.5, 0, 0.5)]
    return text_scales, image_scales


def grid_scales(
    defaults: ModelDefaults,
    text_scales: Sequence[float] | None = None,
    image_scales: Sequence[float] | None = None,
) -> tuple[list[float], list[float]]:
    """The grid's rows (s_T) and columns (s_I): the given ones, else the spread around the
    model's defaults."""
    default_text_scales, default_image_scales = default_grid_scales(defaults)
    return list(text_scales or default_text_scales), list(image_scales or default_image_scales)


def assemble_grid(
    results: Sequence[EditResult], text_scales: list[float], image_scales: list[float]
) -> GridResult:
    """The grid of `results`, given row by row (every s_I for the first s_T, then the next)."""
    columns = len(image_scales)
    rows = [list(results[start : start + columns]) for start in range(0, len(results), columns)]
    sheet = contact_sheet([[cell.image for cell in row] for row in rows], text_scales,
                          image_scales)
    return GridResult(rows, sheet, text_scales, image_scales)


def scale_label(name: str, value: float) -> str:
    """How a scale is written on the sheet, e.g. "s_T 7.5"."""
    return f"{name} {value:g}"


def contact_sheet(
    images: Sequence[Sequence[Image.Image]],
    text_scales: Sequence[float],
    image_scales: Sequence[float],
    cell_size: int = CELL_SIZE,
) -> Image.Image:
    """Lay `images[row][column]` out on a white sheet, rows labelled s_T, columns s_I (one
    column headed "no s_I" when `image_scales` is empty: a model without image guidance)."""
    font = ImageFont.load_default(size=FONT_SIZE)
    row_labels = [scale_label("s_T", value) for value in text_scales]
    column_labels = [scale_label("s_I", value) for value in image_scales] or ["no s_I"]

    first = images[0][0]
    scale = cell_size / max(first.size)
    cell_width, cell_height = round(first.width * scale), round(first.height * scale)
    label_width = round(max(font.getlength(label) for label in row_labels)) + 2 * GAP
    header_height = FONT_SIZE + 2 * GAP
    sheet = Image.new(
        "RGB",
        (
            label_width + len(column_labels) * (cell_width + GAP),
            header_height + len(row_labels) * (cell_height + GAP),
        ),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    for column, label in enumerate(column_labels):
        x = label_width + column * (cell_width + GAP) + cell_width / 2
        draw.text((x, header_height / 2), label, fill="black", font=font, anchor="mm")
    for row, label in enumerate(row_labels):
        y = header_height + row * (cell_height + GAP)
        draw.text((GAP, y + cell_height / 2), label, fill="black", font=font, anchor="lm")
        for column, image in enumerate(images[row]):
            x = label_width + column * (cell_width + GAP)
            sheet.paste(resize_to(image, (cell_width, cell_height)), (x, y))
    return sheet
