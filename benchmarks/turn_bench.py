"""How much of a chat turn is spent outside the editor (interpret + graph + check + store).

    python benchmarks/turn_bench.py [--model demo] [--turns 20] [--interpreter vlm:<folder>]

Runs the same edit turn repeatedly on a synthetic scene with a SQLite store in a temporary
folder, timing the whole turn and, separately, the interpreter's and the editor's own calls.
Targets, with the rule interpreter: the overhead is under 10 % of the turn and under 50 ms
(median). A VLM interpreter's time is its own row; a tiny one for trying the path is made by
`python tests/tiny_models.py vlm /tmp/tiny-vlm`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter

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


class TimedInterpreter:
    """Wraps an interpreter and records how long each turn's interpretation took."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        self.looks_at_image = interpreter.looks_at_image
        self.seconds: list[float] = []

    def interpret(self, text, image=None, history=()):
        start = time.perf_counter()
        command = self.interpreter.interpret(text, image, history)
        self.seconds.append(time.perf_counter() - start)
        return command


def scene() -> Image.Image:
    image = Image.new("RGB", (256, 256), (242, 242, 242))
    image.paste(Image.new("RGB", (80, 80), (230, 31, 31)), (40, 60))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--interpreter", default="rules", help="rules or vlm:<hub id or folder>")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    editor = TimedEditor(load_editor(args.model))
    with tempfile.TemporaryDirectory() as folder:
        store = SessionStore(None, folder)
        interpreter = TimedInterpreter(
            load_interpreter(args.interpreter, editor.defaults, device="cpu"))
        agent = Agent(store, editor, interpreter, seed=0)
        session = store.create_session("local", to_png_bytes(scene())).id
        run_turn(agent, session, "make it darker")  # warm-up: first calls allocate
        turn_seconds, editor_seconds, interpreter_seconds = [], [], []
        actions: Counter[str] = Counter()
        for _ in range(args.turns):
            store.reset("local", session)
            editor.seconds.clear()
            interpreter.seconds.clear()
            start = time.perf_counter()
            actions[run_turn(agent, session, "make it darker").command.action] += 1
            turn_seconds.append(time.perf_counter() - start)
            editor_seconds.append(sum(editor.seconds))
            interpreter_seconds.append(sum(interpreter.seconds))
        store.close()

    overheads = [turn - edit - read for turn, edit, read in
                 zip(turn_seconds, editor_seconds, interpreter_seconds, strict=True)]
    turn, edit, read, overhead = (statistics.median(values) * 1000 for values in
                                  (turn_seconds, editor_seconds, interpreter_seconds, overheads))
    print(f"model {args.model}, interpreter {args.interpreter}, {args.turns} turns of 'make it "
          f"darker' on a 256×256 scene, {args.threads} thread(s), medians; the turns became "
          + ", ".join(f"{action} ×{count}" for action, count in actions.most_common()) + "\n")
    print("| measure | ms | target |")
    print("| --- | --- | --- |")
    print(f"| whole turn | {turn:.1f} | |")
    print(f"| interpreter | {read:.1f} | |")
    print(f"| editor | {edit:.1f} | |")
    print(f"| outside the editor and the interpreter | {overhead:.1f} | <= 50 |")
    print(f"| that / whole turn | {overhead / turn:.1%} | <= 10% |")


if __name__ == "__main__":
    main()
