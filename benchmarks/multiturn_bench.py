"""Identity across turns: does turn 5 still show the person's picture, with five changes?

    python benchmarks/multiturn_bench.py [--episodes 24] [--model demo]

Three measurements, each run twice side by side in one run:

- *before*: the rule interpreter's command for the message, then the whole picture
  regenerated at the model's working size and resized back (as pixchat did up to wave 1);
- *now*: the real chat path (rule interpreter, turn graph with its drift check, session store),
  where each edit is confined to its mask and composed onto the parent at full size.

1. MagicBrush's protocol on held-out demo-world episodes (`world.episode`, 3-5 edits of the
   kinds the demo model learned). *Iterative*: each turn edits the previous output.
   *Independent*: each instruction is applied once to the exact image before it. Printed:
   per-turn L1 to the exact truth, the final-turn / single-turn ratio, and how much the
   pixels that no edit of the episode touched have moved by the last turn.
2. The same episodes shown at 512 px (each 32-px scene enlarged 16× with nearest-neighbour
   scaling): the share of untouched pixels that moved by more than 2/255, and by anything.
3. "darken the image" and "brighten the image" on scikit-image's photos at their own size,
   against the exact truth (`world.DARKEN_GAIN`, `world.BRIGHTEN_MIX` applied to the photo).

Targets: final / single ≤ 1.10; untouched pixels change by ≤ 0.001 at working size and ≤ 1 %
of them by more than 2/255 at 512 px; photo L1 to truth ≤ 0.25 × doing nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make the packages importable

from agent.interpret import load_interpreter  # noqa: E402
from agent.turn import Agent, run_turn  # noqa: E402
from editor import EditRequest, load_editor, resize_to  # noqa: E402
from editor.demo import world  # noqa: E402
from editor.images import load_image, to_png_bytes  # noqa: E402
from memory import SessionStore  # noqa: E402

KINDS = ("recolour", "remove", "background", "darken", "brighten")  # what the demo model knows
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")
ENLARGED = 16  # 32-px scenes shown at 512 px
Edit = Callable[[Image.Image, str, int], Image.Image]  # (image, instruction, seed) -> image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    editor = load_editor(args.model)
    episodes = [world.episode(seed, KINDS) for seed in range(args.episodes)]
    with tempfile.TemporaryDirectory() as folder:
        store = SessionStore(None, folder)
        agent = Agent(store, editor, load_interpreter("rules", editor.defaults))
        ways: dict[str, Edit] = {
            "before": lambda image, text, seed: regenerate(agent, image, text, seed),
            "now": lambda image, text, seed: chat_turn(agent, image, text, seed),
        }
        rows = {name: episode_scores(edit, episodes) for name, edit in ways.items()}
        large = {name: enlarged_untouched(edit, episodes) for name, edit in ways.items()}
        photos = {name: photo_scores(edit) for name, edit in ways.items()}
        store.close()

    print(f"model {args.model}, {len(episodes)} held-out episodes of "
          f"{sum(map(len, episodes))} edits, {args.threads} thread(s)\n")
    print_episode_table(rows)
    print_large_table(large)
    print_photo_table(photos)


# --- the two ways of editing ----------------------------------------------------------------


def regenerate(agent: Agent, image: Image.Image, message: str, seed: int) -> Image.Image:
    """Before: the interpreter's command, the whole picture edited at working size and
    resized back."""
    command = agent.interpreter.interpret(message, None, [])
    result = agent.editor.edit(EditRequest(image, command.instruction, command.text_scale,
                                           command.image_scale, seed=seed))
    return resize_to(result.image, image.size)


def chat_turn(agent: Agent, image: Image.Image, instruction: str, seed: int) -> Image.Image:
    """Now: one chat turn on a session holding `image`; the image the session shows after."""
    agent.seed = seed
    session = agent.store.create_session(agent.owner, to_png_bytes(image)).id
    run_turn(agent, session, instruction)
    return load_image(agent.store.node_image(agent.owner, session))


# --- 1. MagicBrush's protocol ---------------------------------------------------------------


def episode_scores(edit: Edit, episodes: list[list[world.Edit]]) -> dict:
    """Per-turn L1 (iterative), single-turn L1 (independent) and untouched-pixel change."""
    per_turn: dict[int, list[float]] = {}
    finals, singles, untouched = [], [], []
    for number, episode in enumerate(episodes):
        image = world.render_image(episode[0].before)
        for turn, step in enumerate(episode):
            seed = 1000 * number + turn
            image = edit(image, step.instruction, seed)
            per_turn.setdefault(turn + 1, []).append(distance(image, world.render(step.after)))
            alone = edit(world.render_image(step.before), step.instruction, seed)
            singles.append(distance(alone, world.render(step.after)))
        finals.append(per_turn[len(episode)][-1])
        kept = untouched_pixels(episode)
        if kept.any():
            start = world.render(episode[0].before)
            untouched.append(float(np.abs(as_floats(image) - start / 255)[kept].mean()))
    return {"per_turn": {turn: statistics.mean(v) for turn, v in sorted(per_turn.items())},
            "final": statistics.mean(finals), "single": statistics.mean(singles),
            "untouched": statistics.mean(untouched)}


def untouched_pixels(episode: list[world.Edit]) -> np.ndarray:
    """Pixels (SIZE, SIZE) that no edit of the episode changes in the exact truth."""
    start = world.render(episode[0].before)
    return np.all([np.all(world.render(step.after) == start, axis=2) for step in episode], axis=0)


# --- 2. the same episodes at 512 px ---------------------------------------------------------


def enlarged_untouched(edit: Edit, episodes: list[list[world.Edit]]) -> dict:
    """Share of untouched pixels that moved at all / by more than 2/255, at 512 px."""
    moved, moved_far, count = 0, 0, 0
    for number, episode in enumerate(episodes):
        start = enlarge(world.render(episode[0].before))
        image = Image.fromarray(start)
        for turn, step in enumerate(episode):
            image = edit(image, step.instruction, 1000 * number + turn)
        kept = np.kron(untouched_pixels(episode), np.ones((ENLARGED, ENLARGED), bool))
        change = np.abs(np.asarray(image, dtype=np.int16) - start).max(axis=2)[kept]
        moved, moved_far, count = moved + (change > 0).sum(), moved_far + (change > 2).sum(), \
            count + change.size
    return {"moved": moved / count, "moved_far": moved_far / count}


def enlarge(pixels: np.ndarray) -> np.ndarray:
    return pixels.repeat(ENLARGED, axis=0).repeat(ENLARGED, axis=1)


# --- 3. photographs at their own size -------------------------------------------------------


def photo_scores(edit: Edit) -> dict:
    """L1 to the exact truth, and doing nothing's, for darken and brighten on each photo."""
    truths = {
        "darken the image": lambda p: p * world.DARKEN_GAIN,
        "brighten the image": lambda p: p + (255 - p) * world.BRIGHTEN_MIX,
    }
    scores = {}
    for instruction, truth_of in truths.items():
        ratios = []
        for number, name in enumerate(PHOTOS):
            photo = getattr(data, name)()
            truth = np.round(truth_of(photo.astype(np.float64))) / 255
            output = edit(Image.fromarray(photo), instruction, number)
            assert output.size == (photo.shape[1], photo.shape[0])  # the photo's own size
            nothing = np.abs(photo / 255 - truth).mean()
            ratios.append((distance(output, truth * 255), nothing))
        scores[instruction] = (statistics.mean(r for r, _ in ratios),
                               statistics.mean(n for _, n in ratios))
    return scores


# --- helpers and tables ---------------------------------------------------------------------


def as_floats(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255


def distance(image: Image.Image, truth: np.ndarray) -> float:
    """Mean absolute RGB difference, 0..1."""
    return float(np.abs(as_floats(image) - truth / 255).mean())


def print_episode_table(rows: dict) -> None:
    turns = sorted(rows["now"]["per_turn"])
    print("MagicBrush protocol, 32 px (L1 to the exact truth, 0..1):\n")
    print("| way | " + " | ".join(f"turn {t}" for t in turns) +
          " | final | single | final / single (≤ 1.10) | untouched change (≤ 0.001) |")
    print("| --- |" + " ---: |" * (len(turns) + 4))
    for name, row in rows.items():
        cells = " | ".join(f"{row['per_turn'][t]:.4f}" for t in turns)
        print(f"| {name} | {cells} | {row['final']:.4f} | {row['single']:.4f} | "
              f"{row['final'] / row['single']:.2f} | {row['untouched']:.4f} |")
    ratio = rows["now"]["final"] / rows["now"]["single"]
    print(f"\nfinal / single, now against before: {ratio:.2f} / "
          f"{rows['before']['final'] / rows['before']['single']:.2f}\n")


def print_large_table(large: dict) -> None:
    print("The same episodes at 512 px (pixels no edit touched):\n")
    print("| way | moved at all | moved by > 2/255 (≤ 1 %) |")
    print("| --- | ---: | ---: |")
    for name, row in large.items():
        print(f"| {name} | {row['moved']:.2%} | {row['moved_far']:.2%} |")
    print()


def print_photo_table(photos: dict) -> None:
    print(f"Photos at their own size ({', '.join(PHOTOS)}), L1 to the exact truth:\n")
    print("| way | instruction | L1 to truth | doing nothing | ratio (≤ 0.25) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, scores in photos.items():
        for instruction, (to_truth, nothing) in scores.items():
            print(f"| {name} | {instruction} | {to_truth:.4f} | {nothing:.4f} | "
                  f"{to_truth / nothing:.2f} |")


if __name__ == "__main__":
    main()
