"""`pixchat edit` and `pixchat grid`: one-off edits of an image file, with a progress bar.

    pixchat edit photo.jpg "make it a snowy winter scene" --s-t 7.5 --s-i 1.5 --seed 1
    pixchat grid photo.jpg "make it a snowy winter scene" --s-t 5,7.5,10 --s-i 1,1.5,2

Unset scales and steps are the model's recommended ones. When the model cannot be found,
the commands say so and use the embedded demo model instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from editor import SCHEDULERS, EditorError, EditRequest
from editor.base import StepCallback
from editor.images import load_image

from .numbers import scale_text
from .setup import open_editor, read_region


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `edit` and `grid` commands."""
    edit = subparsers.add_parser(
        "edit",
        help="edit an image with an instruction",
        description="Edit IMAGE as INSTRUCTION says and write the result at the input's size.",
    )
    add_common_arguments(edit, default_out="IMAGE-edited.png")
    edit.add_argument(
        "--s-t",
        dest="text_scale",
        type=float,
        metavar="X",
        help="text guidance: how big a change (default: the model's)",
    )
    edit.add_argument(
        "--s-i",
        dest="image_scale",
        type=float,
        metavar="Y",
        help="image guidance: how close to the input (default: the model's; kontext and "
        "qwen-edit have none)",
    )
    edit.add_argument(
        "--mask", type=Path, metavar="PNG",
        help="only change the picture where this mask is white (the image's shape, any size)",
    )
    edit.set_defaults(run=run_edit)

    grid = subparsers.add_parser(
        "grid",
        help="edit with every pair of scales and write a contact sheet",
        description="Edit IMAGE once per (s_T, s_I) pair and write one labelled contact sheet "
        "(rows s_T, columns s_I).",
    )
    add_common_arguments(grid, default_out="IMAGE-grid.png")
    grid.add_argument(
        "--s-t",
        dest="text_scales",
        type=scale_list,
        metavar="LIST",
        help="text guidance values, one row each, e.g. 5,7.5,10 (default: around the model's)",
    )
    grid.add_argument(
        "--s-i",
        dest="image_scales",
        type=scale_list,
        metavar="LIST",
        help="image guidance values, one column each, e.g. 1,1.5,2 (default: around the model's)",
    )
    grid.set_defaults(run=run_grid)


def add_common_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("image", type=Path, help="the image file to edit")
    parser.add_argument("instruction", help='what to change, e.g. "make it snowy"')
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, printed)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    parser.add_argument(
        "--scheduler", choices=SCHEDULERS, help="sampler (default: the model's)"
    )
    parser.add_argument(
        "--model",
        default="demo",
        help="ip2p, magicbrush, kontext, qwen-edit, demo, a Hugging Face Hub id or a local "
        "folder (default: demo)",
    )
    parser.add_argument(
        "--out", type=Path, help=f"where to write the result (default: {default_out})"
    )


def run_edit(args: argparse.Namespace) -> int:
    from editor.composite import compose  # torch loads only where an edit is made

    image = load_image(args.image)
    region = read_region(args.mask, image.size) if args.mask else None
    editor = open_editor(args.model, warn, url=args.editor_url)
    with progress_bar("editing") as on_step:
        result = editor.edit(
            EditRequest(
                image,
                args.instruction,
                text_scale=args.text_scale,
                image_scale=args.image_scale,
                steps=args.steps,
                seed=args.seed,
                scheduler=args.scheduler,
                on_step=on_step,
                region=region,
            )
        )
    out = args.out or args.image.with_name(f"{args.image.stem}-edited.png")
    save(compose(image, result, region).image, out)
    image_scale = "no s_I" if result.image_scale is None else \
        f"s_I {scale_text(result.image_scale)}"
    print(
        f"wrote {out}: s_T {scale_text(result.text_scale)}, {image_scale}, seed {result.seed}, "
        f"{result.steps} steps ({result.scheduler}), model {result.model_id}, "
        f"{result.timings['total']:.1f} s"
    )
    return 0


def run_grid(args: argparse.Namespace) -> int:
    image = load_image(args.image)
    editor = open_editor(args.model, warn, url=args.editor_url)
    with progress_bar("editing the grid") as on_step:
        request = EditRequest(
            image,
            args.instruction,
            steps=args.steps,
            seed=args.seed,
            scheduler=args.scheduler,
            on_step=on_step,
        )
        grid = editor.grid(request, args.text_scales, args.image_scales)
    out = args.out or args.image.with_name(f"{args.image.stem}-grid.png")
    save(grid.sheet, out)
    first = grid.results[0][0]
    print(
        f"wrote {out}: rows s_T {', '.join(map(scale_text, grid.text_scales))}; "
        f"columns s_I {', '.join(map(scale_text, grid.image_scales)) or 'none (no s_I)'}; "
        f"seed {first.seed}, "
        f"{first.steps} steps ({first.scheduler}), model {first.model_id}, "
        f"{first.timings['total']:.1f} s"
    )
    return 0


def warn(message: str) -> None:
    """Tell the person something went differently than asked, on stderr."""
    print(f"warning: {message}", file=sys.stderr)


@contextmanager
def progress_bar(description: str) -> Iterator[StepCallback]:
    """A tqdm bar on stderr, advanced by the editor's per-step callback."""
    from tqdm import tqdm

    with tqdm(desc=description, unit="step") as bar:

        def on_step(step: int, total: int) -> None:
            bar.total = total
            bar.update(step - bar.n)

        yield on_step


def scale_list(text: str) -> list[float]:
    """Parse "5,7.5,10" into [5.0, 7.5, 10.0]."""
    try:
        return [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, like 5,7.5,10, not {text!r}"
        ) from None


def save(image: Image.Image, out: Path) -> None:
    try:
        image.save(out)
    except (OSError, ValueError) as error:
        raise EditorError(f"Cannot write {out} ({error}); choose another --out path.") from None
