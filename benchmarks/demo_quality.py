"""The demo model's quality bar on the world's held-out split, printed as one table.

For every held-out edit, one batch runs all the scale pairs the bar needs (s_T rising to the
recommended value, s_I at 1.0, 1.5, 2.5) from the same seed, and every output is scored
against the exact "after" image. A kind passes when:

- it beats doing nothing: mean L1 to the truth below L1(input, truth), at most half of it for
  background, darken and brighten;
- recolour: the shape's mean colour gets at least halfway to the asked colour in >= 80 % of
  cases and the rest of the image changes by <= 0.05; remove: the shape's region gets at least
  halfway to the background in >= 80 %;
- raising s_T lowers L1 to the truth (up to the recommended s_T), and raising s_I lowers the
  distance to the input;

and an edit (recommended settings, 20 steps, one torch thread) takes under 1 s of CPU.

Beside the bar it prints how often the local edits land in scenes of 1, 2 and 3 shapes.

Usage: python benchmarks/demo_quality.py [--model DIR] [--count 200] [--update-card]
       python benchmarks/demo_quality.py --scan 1,1.25,1.5,1.75,2 [--scheduler NAME]  # choose s_T
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from time import perf_counter, process_time

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `editor` importable

from agent.cli_edit import scale_list  # noqa: E402
from editor import SCHEDULERS, EditRequest, Pix2PixEditor  # noqa: E402
from editor.demo import quality, world  # noqa: E402
from editor.models import DEMO_MODEL_DIR  # noqa: E402

KINDS = ("recolour", "remove", "background", "darken", "brighten")
GLOBAL_KINDS = ("background", "darken", "brighten")  # must halve the distance to the truth
IMAGE_SCALES = (1.0, 1.5, 2.5)
CARD_HEADING = "## Quality bar"


def text_scales_up_to(recommended: float) -> list[float]:
    """Three text scales rising to the recommended one."""
    return [1.0, round((1.0 + recommended) / 2, 2), recommended]


def scale_pairs(recommended: tuple[float, float]) -> list[tuple[float, float]]:
    """The (s_T, s_I) pairs the bar needs: s_T rising at the recommended s_I, and s_I rising
    at the recommended s_T (the recommended pair among them)."""
    text_scale, image_scale = recommended
    pairs = [(t, image_scale) for t in text_scales_up_to(text_scale)]
    return pairs + [(text_scale, i) for i in IMAGE_SCALES if (text_scale, i) not in pairs]


def run_edits(editor: Pix2PixEditor, edits, pairs, seed, scheduler) -> dict:
    """Scores of every edit at every (s_T, s_I) pair: {(s_T, s_I): [Score, ...]}.

    All pairs of one edit run as one batch from the same seed, as the editor's options grid
    does, through the editor's own encode / denoise / decode steps.
    """
    scores: dict[tuple[float, float], list[quality.Score]] = {pair: [] for pair in pairs}
    size = (world.SIZE, world.SIZE)
    for index, edit in enumerate(edits):
        text = editor.encode_instruction(edit.instruction)
        image = editor.encode_image(world.render_image(edit.before), size)
        latents, _ = editor.denoise(text, image, pairs, steps=20, seed=seed + index,
                                 scheduler=scheduler)
        pixels = editor.image_processor.pt_to_numpy(editor.decode(latents))
        for pair, output in zip(pairs, editor.image_processor.numpy_to_pil(pixels), strict=True):
            scores[pair].append(quality.score(edit, np.asarray(output)))
        if (index + 1) % 25 == 0:
            print(f"  {index + 1}/{len(edits)} edits", file=sys.stderr, flush=True)
    return scores


def seconds_per_edit(editor: Pix2PixEditor, edits, scheduler,
                     repeats: int = 5) -> tuple[float, float]:
    """Median CPU and wall seconds of one edit at the model's recommended scales and steps."""
    cpu, wall = [], []
    for index in range(repeats + 1):
        edit = edits[index % len(edits)]
        request = EditRequest(world.render_image(edit.before), edit.instruction, seed=index,
                              scheduler=scheduler)
        start_cpu, start_wall = process_time(), perf_counter()
        editor.edit(request)
        if index:  # the first run warms up
            cpu.append(process_time() - start_cpu)
            wall.append(perf_counter() - start_wall)
    return statistics.median(cpu), statistics.median(wall)


def trend(values: list[float], falling: bool = True) -> tuple[str, bool]:
    """'a > b > c' and whether the values strictly fall (or rise)."""
    ok = all((a > b) if falling else (a < b) for a, b in zip(values, values[1:], strict=False))
    return (" > " if falling else " < ").join(f"{v:.3f}" for v in values), ok


def quality_table(scores, recommended, kinds) -> tuple[str, bool]:
    """The markdown table of the bar, and whether every row passes."""
    rec_t, rec_i = recommended
    main = scores[(rec_t, rec_i)]
    lines = [
        "| edit | n | L1 to truth | doing nothing | ratio (bar) | landed (bar 0.80) "
        "| outside change (bar 0.05) | L1 to truth as s_T rises | L1 to input as s_I rises "
        "| pass |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    all_pass = True
    for kind in kinds:
        to_truth = quality.mean_by_kind(main, "to_truth")[kind]
        nothing = quality.mean_by_kind(main, "nothing_to_truth")[kind]
        count = sum(score.kind == kind for score in main)
        bar = 0.5 if kind in GLOBAL_KINDS else 1.0
        passed = to_truth < bar * nothing
        landed = quality.mean_by_kind(main, "landed").get(kind)
        outside = quality.mean_by_kind(main, "outside_change").get(kind)
        if landed is not None:
            passed &= landed >= 0.8
        if kind == "recolour":
            passed &= outside <= 0.05
        text_trend, text_ok = trend(
            [quality.mean_by_kind(scores[(t, rec_i)], "to_truth")[kind]
             for t in text_scales_up_to(rec_t)])
        image_trend, image_ok = trend(
            [quality.mean_by_kind(scores[(rec_t, i)], "to_input")[kind] for i in IMAGE_SCALES])
        passed &= text_ok and image_ok
        all_pass &= passed
        lines.append(
            f"| {kind} | {count} | {to_truth:.3f} | {nothing:.3f} | "
            f"{to_truth / nothing:.2f} (< {bar:g}) | "
            f"{'' if landed is None else f'{landed:.2f}'} | "
            f"{'' if outside is None else f'{outside:.3f}'} | "
            f"{text_trend} | {image_trend} | {'yes' if passed else 'NO'} |"
        )
    return "\n".join(lines), all_pass


def landed_by_shape_count(edits, scores) -> str:
    """Landed rate of the local edits by how many shapes the scene has: with more than one,
    the model must also pick the shape the instruction names."""
    lines = ["| edit | 1 shape | 2 shapes | 3 shapes |", "| --- | ---: | ---: | ---: |"]
    for kind in [kind for kind in KINDS if kind not in GLOBAL_KINDS]:
        cells = []
        for count in (1, 2, 3):
            landed = [score.landed for edit, score in zip(edits, scores, strict=True)
                      if edit.kind == kind and len(edit.before.shapes) == count]
            cells.append(f"{sum(landed)}/{len(landed)}" if landed else "")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scan_table(editor: Pix2PixEditor, edits, text_scales, image_scale, seed, scheduler) -> str:
    """Per kind and s_T (at one s_I): L1 to the truth divided by L1 for doing nothing, and for
    local edits the landed rate in brackets. The recommended s_T is chosen from this table."""
    pairs = [(text_scale, image_scale) for text_scale in text_scales]
    scores = run_edits(editor, edits, pairs, seed, scheduler)
    lines = ["| edit | " + " | ".join(f"s_T {t:g}" for t in text_scales) + " |",
             "| --- |" + " ---: |" * len(text_scales)]
    means = {pair: {field: quality.mean_by_kind(scores[pair], field)
                    for field in ("to_truth", "nothing_to_truth", "landed")} for pair in pairs}
    for kind in KINDS:
        cells = []
        for pair in pairs:
            ratio = means[pair]["to_truth"][kind] / means[pair]["nothing_to_truth"][kind]
            landed = means[pair]["landed"].get(kind)
            cells.append(f"{ratio:.2f}" + ("" if landed is None else f" ({landed:.2f})"))
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO_MODEL_DIR, help="model folder")
    parser.add_argument("--count", type=int, default=200, help="held-out edits (>= 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-scale", type=float, help="s_T to judge (default: the model's)")
    parser.add_argument("--image-scale", type=float, help="s_I to judge (default: the model's)")
    parser.add_argument("--scheduler", choices=SCHEDULERS,
                        help="sampler to judge (default: the model's)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--update-card", action="store_true",
                        help=f"write the table into the model folder's README ({CARD_HEADING})")
    parser.add_argument("--scan", type=scale_list,
                        help="comma-separated s_T values: print the scan table only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    editor = Pix2PixEditor.from_pretrained(str(args.model))
    recommended = (args.text_scale or editor.defaults.text_scale,
                   args.image_scale or editor.defaults.image_scale)
    scheduler = args.scheduler or editor.defaults.scheduler
    edits = world.held_out_edits(args.count, KINDS)
    if args.scan:
        print(f"Demo model s_T scan ({args.model}): {len(edits)} held-out edits at s_I = "
              f"{recommended[1]:g}, {scheduler}; L1 to truth / doing nothing (landed rate)\n")
        print(scan_table(editor, edits, args.scan, recommended[1], args.seed, scheduler))
        return
    cpu, wall = seconds_per_edit(editor, edits, scheduler)
    scores = run_edits(editor, edits, scale_pairs(recommended), args.seed, scheduler)
    table, all_pass = quality_table(scores, recommended, KINDS)
    speed = (f"One edit ({editor.defaults.steps} steps, {editor.defaults.size}x"
             f"{editor.defaults.size}, {args.threads} thread): {cpu:.2f} s CPU, {wall:.2f} s wall "
             f"(bar: under 1 s): {'yes' if cpu < 1 else 'NO'}")
    report = (
        f"{len(edits)} held-out edits at s_T = {recommended[0]:g}, "
        f"s_I = {recommended[1]:g}, {scheduler}; s_T trend at "
        f"{', '.join(f'{t:g}' for t in text_scales_up_to(recommended[0]))}, "
        f"s_I trend at {', '.join(f'{i:g}' for i in IMAGE_SCALES)}. "
        "Distances: mean absolute RGB difference, 0..1.\n\n"
        f"{table}\n\nLocal edits landed, by the number of shapes in the scene:\n\n"
        f"{landed_by_shape_count(edits, scores[recommended])}\n\n{speed}\n\n"
        f"Quality bar met: {'yes' if all_pass and cpu < 1 else 'NO'}"
    )
    print(f"Demo model quality ({args.model})\n\n{report}")
    if args.update_card:
        card_path = args.model / "README.md"
        card = card_path.read_text().split(CARD_HEADING)[0].rstrip()
        card_path.write_text(f"{card}\n\n{CARD_HEADING}\n\n"
                             f"`python benchmarks/demo_quality.py` printed:\n\n{report}\n")


if __name__ == "__main__":
    main()
