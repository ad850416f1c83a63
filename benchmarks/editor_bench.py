"""Editor speed, side by side in one process, printed as a table of ratios.

1. Our editor vs diffusers' StableDiffusionInstructPix2PixPipeline: same components,
   scheduler, seed, steps and scales (target: ratio <= 1.0).
2. A 3×3 options grid vs nine separate edits (target: ratio <= 0.9).
3. An edit of a 1500×1000 photo composed at the photo's size (mask, guided upsampling) vs
   the same edit resized back, as pixchat did before it composed (target: ratio <= 1.1).

Our editor's time includes what diffusers' pipeline does not compute: the first step's
image-only prediction (for the edit mask) and decoding the input beside the result.

Runs on the embedded demo model when it is present, else on the tiny random model the tests
build; pass --model to choose. Usage: python benchmarks/editor_bench.py [--model M] [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import process_time

import numpy as np
import torch
from diffusers import StableDiffusionInstructPix2PixPipeline
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `editor` and `tests` importable

from editor import EditRequest, Pix2PixEditor, resize_to  # noqa: E402
from editor.composite import compose  # noqa: E402
from editor.grid import default_grid_scales  # noqa: E402
from editor.models import DEMO_MODEL_DIR  # noqa: E402
from tests.tiny_models import build_tiny_pix2pix  # noqa: E402

INSTRUCTION = "make the circle blue"
SEED = 0
STEPS = 20


def compare(ours: Callable[[], object], reference: Callable[[], object], repeats: int):
    """Median CPU seconds of each, run alternately after one warm-up each.

    CPU time of this process, not wall time: on a shared machine wall time mostly measures
    the other processes. With one torch thread the two are the same on an idle machine.
    """
    ours(), reference()
    times: dict[Callable, list[float]] = {ours: [], reference: []}
    for _ in range(repeats):
        for function, runs in times.items():
            start = process_time()
            function()
            runs.append(process_time() - start)
    return statistics.median(times[ours]), statistics.median(times[reference])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the demo model, else a tiny one)")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="pixchat-bench-") as scratch:
        model = args.model or DEMO_MODEL_DIR
        if not Path(model).is_dir():
            model = build_tiny_pix2pix(Path(scratch))
        benchmark(Path(model), args.repeats, args.threads)


def benchmark(model: Path, repeats: int, threads: int) -> None:
    """Time both comparisons on `model` and print the table."""
    editor = Pix2PixEditor.from_pretrained(str(model), device="cpu")
    pipeline = StableDiffusionInstructPix2PixPipeline.from_pretrained(model)
    pipeline.set_progress_bar_config(disable=True)

    defaults = editor.defaults
    side = defaults.size
    pixels = np.random.default_rng(SEED).integers(0, 256, (side, side, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    request = EditRequest(image, INSTRUCTION, steps=STEPS, seed=SEED)
    text_scales, image_scales = default_grid_scales(defaults)

    def ours() -> None:
        editor.edit(request)

    def diffusers_pipeline() -> None:
        pipeline(
            INSTRUCTION,
            image=image,
            num_inference_steps=STEPS,
            guidance_scale=defaults.text_scale,
            image_guidance_scale=defaults.image_scale,
            generator=torch.Generator("cpu").manual_seed(SEED),
        )

    photo = Image.fromarray(np.random.default_rng(SEED).integers(0, 256, (1000, 1500, 3),
                                                                   dtype=np.uint8))
    photo_request = EditRequest(photo, INSTRUCTION, steps=STEPS, seed=SEED)

    def composed() -> None:
        compose(photo, editor.edit(photo_request))

    def resized_back() -> None:
        resize_to(editor.edit(photo_request).image, photo.size)

    def grid() -> None:
        editor.grid(request, text_scales, image_scales)

    def nine_edits() -> None:
        for text_scale in text_scales:
            for image_scale in image_scales:
                editor.edit(EditRequest(image, INSTRUCTION, text_scale, image_scale, STEPS, SEED))

    grid_repeats = max(1, repeats // 3)
    rows = [
        ("editor vs diffusers pipeline", *compare(ours, diffusers_pipeline, repeats), 1.0),
        ("3×3 grid vs 9 separate edits", *compare(grid, nine_edits, grid_repeats), 0.9),
        ("photo edit composed vs resized back", *compare(composed, resized_back, repeats), 1.1),
    ]
    print(
        f"model {editor.model_id}: {side}×{side}, {STEPS} steps euler_ancestral, "
        f"s_T {defaults.text_scale:g}, s_I {defaults.image_scale:g}; "
        f"cpu, {threads} thread(s), median of {repeats} (grid: {grid_repeats}) runs"
    )
    print()
    print("| comparison | ours (CPU s) | reference (CPU s) | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, mine, reference, target in rows:
        ratio = mine / reference
        met = "yes" if ratio <= target else "NO"
        print(f"| {name} | {mine:.3f} | {reference:.3f} | {ratio:.2f} | <= {target} | {met} |")


if __name__ == "__main__":
    main()
