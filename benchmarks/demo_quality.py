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

With `--world photos` it judges the photo model (`demo-photo`) on scikit-learn's two sample
photos, which it never trained on, at their own size (640x427): every result is brought to
full size by `editor.composite.compose`, as the app does, and compared with the exact edit
of the full-size photo. Every kind must reach L1 to the truth <= 0.3 x doing nothing, with
the same s_T and s_I trends, and an edit including the full-size composite must take <= 2 s
of CPU. A second table shows what compositing alone allows: the exact edit made at working
size and composed, at several working sizes.

Usage: python benchmarks/demo_quality.py [--model DIR] [--count 200] [--update-card]
       python benchmarks/demo_quality.py --scan 1,1.25,1.5,1.75,2 [--scheduler NAME]  # choose s_T
       python benchmarks/demo_quality.py --world photos [--count 60] [--update-card]
       python benchmarks/demo_quality.py --world photos --scan 1.5,2,3,4
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from time import perf_counter, process_time

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `editor` importable

from agent.cli_edit import scale_list  # noqa: E402
from agent.repertoire import within_repertoire  # noqa: E402
from agent.rules import RuleInterpreter  # noqa: E402
from editor import SCHEDULERS, EditRequest, Pix2PixEditor, working_size  # noqa: E402
from editor.composite import compose  # noqa: E402
from editor.demo import photos, quality, world  # noqa: E402
from editor.models import DEMO_MODEL_DIR, DEMO_PHOTO_MODEL_DIR  # noqa: E402

KINDS = ("recolour", "remove", "background", "darken", "brighten")
GLOBAL_KINDS = ("background", "darken", "brighten")  # must halve the distance to the truth
PHOTO_BAR = 0.3  # every photo edit: L1 to truth at most this times doing nothing
PHOTO_SECONDS = 2.0  # one photo edit, full-size composite included, one thread
COMPOSITE_SIZES = (16, 32, 64)
# What the composite maps from (`ModelDefaults.render_unedited`), as the report says it.
ROUND_TRIP = "the input's VAE round trip"
NO_EDIT = "the model's own no-edit rendering (same noise, s_T = 0)"
COLOUR_ONLY = ", through the local colour models alone (`colour_only`)"
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


def seconds_per_edit(editor: Pix2PixEditor, requests: list[EditRequest],
                     repeats: int = 5, full_size: bool = False) -> tuple[float, float]:
    """Median CPU and wall seconds of one edit at the model's recommended scales and steps
    (with `full_size`, the composite at the input's own size included)."""
    cpu, wall = [], []
    for index in range(repeats + 1):
        request = replace(requests[index % len(requests)], seed=index)
        start_cpu, start_wall = process_time(), perf_counter()
        result = editor.edit(request)
        if full_size:
            compose(request.image, result)
        if index:  # the first run warms up
            cpu.append(process_time() - start_cpu)
            wall.append(perf_counter() - start_wall)
    return statistics.median(cpu), statistics.median(wall)


def trend(values: list[float], falling: bool = True) -> tuple[str, bool]:
    """'a > b > c' and whether the values strictly fall (or rise)."""
    ok = all((a > b) if falling else (a < b) for a, b in zip(values, values[1:], strict=False))
    return (" > " if falling else " < ").join(f"{v:.3f}" for v in values), ok


def quality_table(scores, recommended, kinds, bars=None) -> tuple[str, bool]:
    """The markdown table of the bar, and whether every row passes; `bars` maps a kind to
    its largest allowed ratio (default: 0.5 for the global shapes edits, else 1)."""
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
        bar = bars[kind] if bars else 0.5 if kind in GLOBAL_KINDS else 1.0
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


def scan_table(scores, text_scales, image_scale, kinds) -> str:
    """Per kind and s_T (at one s_I): L1 to the truth divided by L1 for doing nothing, and for
    local edits the landed rate in brackets. The recommended s_T is chosen from this table."""
    pairs = [(text_scale, image_scale) for text_scale in text_scales]
    lines = ["| edit | " + " | ".join(f"s_T {t:g}" for t in text_scales) + " |",
             "| --- |" + " ---: |" * len(text_scales)]
    means = {pair: {field: quality.mean_by_kind(scores[pair], field)
                    for field in ("to_truth", "nothing_to_truth", "landed")} for pair in pairs}
    for kind in kinds:
        cells = []
        for pair in pairs:
            ratio = means[pair]["to_truth"][kind] / means[pair]["nothing_to_truth"][kind]
            landed = means[pair]["landed"].get(kind)
            cells.append(f"{ratio:.2f}" + ("" if landed is None else f" ({landed:.2f})"))
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the photo world ------------------------------------------------------------------------


def photo_requests(edits: list[photos.Edit]) -> list[EditRequest]:
    """Held-out edit i on held-out photo i mod 2, at the photo's own size."""
    originals = [photos.held_out_photo(name) for name in photos.HELD_OUT_PHOTOS]
    return [EditRequest(originals[index % len(originals)], edit.instruction)
            for index, edit in enumerate(edits)]


def run_photo_edits(editor: Pix2PixEditor, edits, requests, pairs, seed) -> dict:
    """Scores at full size of every edit at every (s_T, s_I) pair: {(s_T, s_I): [Score]}.

    All pairs of one edit run as one options grid from the same seed; each result is brought
    to the photo's size by `compose`, as the app does, and compared with the exact truth.
    """
    text_scales = sorted({text_scale for text_scale, _ in pairs})
    image_scales = sorted({image_scale for _, image_scale in pairs})
    scores: dict[tuple[float, float], list[quality.Score]] = {}
    for index, (edit, request) in enumerate(zip(edits, requests, strict=True)):
        photo = np.asarray(request.image)
        truth = edit.apply(photo)
        grid = editor.grid(replace(request, seed=seed + index), text_scales, image_scales)
        for result in (cell for row in grid.results for cell in row):
            if (result.text_scale, result.image_scale) not in pairs:
                continue
            full = np.asarray(compose(request.image, result).image)
            scores.setdefault((result.text_scale, result.image_scale), []).append(
                quality.compare(edit.kind, photo, truth, full))
        if (index + 1) % 10 == 0:
            print(f"  {index + 1}/{len(edits)} edits", file=sys.stderr, flush=True)
    return scores


def composite_alone_table(edits, requests, sizes=COMPOSITE_SIZES) -> str:
    """L1 to truth / doing nothing when the exact edit is made at working size and composed
    to full size: the best any model can do at that size (0 means nothing is lost)."""
    ratios: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
    for edit, request in zip(edits, requests, strict=True):
        photo = np.asarray(request.image)
        truth = edit.apply(photo)
        for size in sizes:
            small = request.image.resize(working_size(request.image.size, size, 2),
                                         Image.Resampling.BOX)
            exact = Image.fromarray(edit.apply(np.asarray(small)))
            result = SimpleResult(exact, small, Image.new("L", small.size, 255))
            score = quality.compare(edit.kind, photo, truth,
                                    np.asarray(compose(request.image, result).image))
            ratios[size].setdefault(edit.kind, []).append(score.to_truth /
                                                          score.nothing_to_truth)
    kinds = list(ratios[sizes[0]])
    lines = ["| edit | " + " | ".join(f"{size} px" for size in sizes) + " |",
             "| --- |" + " ---: |" * len(sizes)]
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(f"{np.mean(ratios[size][kind]):.3f}"
                                                 for size in sizes) + " |")
    return "\n".join(lines)


@dataclass
class SimpleResult:
    """What `compose` reads of an `EditResult`: the edit, the input as seen, the mask, no
    object region, and no promise that nothing new was drawn (the general composite)."""

    image: Image.Image
    seen: Image.Image
    mask: Image.Image
    region: None = None
    colour_only: bool = False


def chat_line(editor: Pix2PixEditor, instructions: list[str], recommended, scheduler) -> str:
    """How many held-out instructions chat runs as judged here: the rule interpreter's
    command as the model's repertoire leaves it, with the model's own sampler."""
    interpreter = RuleInterpreter(editor.defaults)
    same = 0
    for instruction in instructions:
        command = within_repertoire(interpreter.interpret(instruction), editor.repertoire)
        scales = (command.text_scale or editor.defaults.text_scale,
                  command.image_scale or editor.defaults.image_scale)
        same += (command.action, scales, editor.defaults.scheduler) == ("edit", recommended,
                                                                        scheduler)
    return (f"In chat (rule interpreter), {same} of {len(instructions)} held-out instructions "
            "run at these scales and sampler.")


def photo_report(editor: Pix2PixEditor, args, recommended, scheduler) -> tuple[str, bool]:
    """The photo world's quality table, compositing table and timing, and whether all pass."""
    edits = photos.held_out_edits(args.count)
    kinds = tuple(dict.fromkeys(edit.kind for edit in edits))  # all of them from 15 edits
    requests = photo_requests(edits)
    requests = [replace(request, scheduler=scheduler) for request in requests]
    cpu, wall = seconds_per_edit(editor, requests, full_size=True)
    scores = run_photo_edits(editor, edits, requests, scale_pairs(recommended), args.seed)
    table, all_pass = quality_table(scores, recommended, kinds,
                                    bars=dict.fromkeys(kinds, PHOTO_BAR))
    width, height = requests[0].image.size
    speed = (f"One edit ({editor.defaults.steps} steps, long side {editor.defaults.size}, "
             f"composed to {width}x{height}, {args.threads} thread): {cpu:.2f} s CPU, "
             f"{wall:.2f} s wall (bar: at most {PHOTO_SECONDS:g} s): "
             f"{'yes' if cpu <= PHOTO_SECONDS else 'NO'}")
    report = (
        f"{len(edits)} held-out edits of scikit-learn's china.jpg and flower.jpg (never "
        f"trained on) at their own size, {width}x{height}, at s_T = {recommended[0]:g}, "
        f"s_I = {recommended[1]:g}, {scheduler}; s_T trend at "
        f"{', '.join(f'{t:g}' for t in text_scales_up_to(recommended[0]))}, s_I trend at "
        f"{', '.join(f'{i:g}' for i in IMAGE_SCALES)}. Results composed to full size by "
        "`editor.composite.compose`, mapping from "
        f"{NO_EDIT if editor.defaults.render_unedited else ROUND_TRIP}"
        f"{COLOUR_ONLY if editor.defaults.colour_only else ''}. "
        "Distances: mean absolute RGB difference, 0..1.\n\n"
        f"{table}\n\nCompositing alone (the exact edit made at working size, composed; "
        "L1 to truth / doing nothing, by working long side):\n\n"
        f"{composite_alone_table(edits, requests)}\n\n"
        f"{chat_line(editor, [edit.instruction for edit in edits], recommended, scheduler)}"
        f"\n\n{speed}\n\n"
        f"Quality bar met: {'yes' if all_pass and cpu <= PHOTO_SECONDS else 'NO'}"
    )
    return report, all_pass and cpu <= PHOTO_SECONDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=("shapes", "photos"), default="shapes")
    parser.add_argument("--model", type=Path,
                        help="model folder (default: the world's embedded model)")
    parser.add_argument("--count", type=int,
                        help="held-out edits (default: 200 shapes, 60 photos)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-scale", type=float, help="s_T to judge (default: the model's)")
    parser.add_argument("--image-scale", type=float, help="s_I to judge (default: the model's)")
    parser.add_argument("--scheduler", choices=SCHEDULERS,
                        help="sampler to judge (default: the model's)")
    parser.add_argument("--render-unedited", choices=("yes", "no"),
                        help="compose from the model's own no-edit rendering (default: as the "
                             "model's pixchat.json says)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--update-card", action="store_true",
                        help=f"write the table into the model folder's README ({CARD_HEADING})")
    parser.add_argument("--scan", type=scale_list,
                        help="comma-separated s_T values: print the scan table only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photo_world = args.world == "photos"
    args.model = args.model or (DEMO_PHOTO_MODEL_DIR if photo_world else DEMO_MODEL_DIR)
    args.count = args.count or (60 if photo_world else 200)

    editor = Pix2PixEditor.from_pretrained(str(args.model))
    if args.render_unedited:
        editor.defaults = replace(editor.defaults, render_unedited=args.render_unedited == "yes")
    recommended = (args.text_scale or editor.defaults.text_scale,
                   args.image_scale or editor.defaults.image_scale)
    scheduler = args.scheduler or editor.defaults.scheduler
    if photo_world and args.scan:
        edits = photos.held_out_edits(args.count)
        requests = [replace(request, scheduler=scheduler) for request in photo_requests(edits)]
        pairs = [(text_scale, recommended[1]) for text_scale in args.scan]
        scores = run_photo_edits(editor, edits, requests, pairs, args.seed)
        print(f"Photo model s_T scan ({args.model}): {len(edits)} held-out edits at full size, "
              f"s_I = {recommended[1]:g}, {scheduler}; L1 to truth / doing nothing\n")
        print(scan_table(scores, args.scan, recommended[1], dict.fromkeys(e.kind for e in edits)))
        return
    if photo_world:
        report, _ = photo_report(editor, args, recommended, scheduler)
        print(f"Photo model quality ({args.model})\n\n{report}")
        if args.update_card:
            update_card(args.model, report, "--world photos")
        return
    edits = world.held_out_edits(args.count, KINDS)
    if args.scan:
        print(f"Demo model s_T scan ({args.model}): {len(edits)} held-out edits at s_I = "
              f"{recommended[1]:g}, {scheduler}; L1 to truth / doing nothing (landed rate)\n")
        pairs = [(text_scale, recommended[1]) for text_scale in args.scan]
        scores = run_edits(editor, edits, pairs, args.seed, scheduler)
        print(scan_table(scores, args.scan, recommended[1], KINDS))
        return
    cpu, wall = seconds_per_edit(editor, [
        EditRequest(world.render_image(edit.before), edit.instruction, scheduler=scheduler)
        for edit in edits])
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
        f"{landed_by_shape_count(edits, scores[recommended])}\n\n"
        f"{chat_line(editor, [edit.instruction for edit in edits], recommended, scheduler)}"
        f"\n\n{speed}\n\n"
        f"Quality bar met: {'yes' if all_pass and cpu < 1 else 'NO'}"
    )
    print(f"Demo model quality ({args.model})\n\n{report}")
    if args.update_card:
        update_card(args.model, report)


def update_card(model: Path, report: str, options: str = "") -> None:
    """Write `report` into the model folder's README under CARD_HEADING."""
    card_path = model / "README.md"
    card = card_path.read_text().split(CARD_HEADING)[0].rstrip()
    command = " ".join(["python benchmarks/demo_quality.py", options]).strip()
    card_path.write_text(f"{card}\n\n{CARD_HEADING}\n\n`{command}` printed:\n\n{report}\n")


if __name__ == "__main__":
    main()
