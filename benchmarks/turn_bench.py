"""How much of a chat turn is spent outside the editor (interpret + graph + check + store).

    python benchmarks/turn_bench.py [--model demo] [--turns 20]

Runs the same edit turn repeatedly on a synthetic scene with a SQLite store in a temporary
folder, timing the whole turn and, separately, the editor's own `edit` calls. Targets: the
overhead is under 10 % of the turn and under 50 ms (median).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from PIL import Image

from agent.interpret import load_interpreter
from agent.turn import Agent, run_turn
from editor import load_editor
from editor.images import to_png_bytes
from memory import SessionStore


class TimedEditor:
    """Wraps an editor and records how long each of its edits took."""

    def __init__(self, editor):
        self.editor = editor
        self.defaults = editor.defaults
        self.seconds: list[float] = []

    def edit(self, request):
        start = time.perf_counter()
        result = self.editor.edit(request)
        self.seconds.append(time.perf_counter() - start)
        return result

    def grid(self, *args, **kwargs):
        return self.editor.grid(*args, **kwargs)


def scene() -> Image.Image:
    image = Image.new("RGB", (256, 256), (242, 242, 242))
    image.paste(Image.new("RGB", (80, 80), (230, 31, 31)), (40, 60))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    editor = TimedEditor(load_editor(args.model))
    with tempfile.TemporaryDirectory() as folder:
        store = SessionStore(None, folder)
        agent = Agent(store, editor, load_interpreter("rules", editor.defaults), seed=0)
        session = store.create_session("local", to_png_bytes(scene())).id
        run_turn(agent, session, "make it darker")  # warm-up: first calls allocate
        turn_seconds, editor_seconds = [], []
        for _ in range(args.turns):
            store.reset("local", session)
            editor.seconds.clear()
            start = time.perf_counter()
            run_turn(agent, session, "make it darker")
            turn_seconds.append(time.perf_counter() - start)
            editor_seconds.append(sum(editor.seconds))
        store.close()

    overheads = [turn - edit for turn, edit in zip(turn_seconds, editor_seconds, strict=True)]
    turn, edit, overhead = (statistics.median(values) * 1000 for values in
                            (turn_seconds, editor_seconds, overheads))
    print(f"model {args.model}, {args.turns} turns of 'make it darker' on a 256×256 scene, "
          f"{args.threads} thread(s), medians\n")
    print("| measure | ms | target |")
    print("| --- | --- | --- |")
    print(f"| whole turn | {turn:.1f} | |")
    print(f"| editor | {edit:.1f} | |")
    print(f"| outside the editor | {overhead:.1f} | <= 50 |")
    print(f"| outside / whole turn | {overhead / turn:.1%} | <= 10% |")


if __name__ == "__main__":
    main()
