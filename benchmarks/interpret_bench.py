"""How well an interpreter understands chat turns: accuracy per action on a phrasing corpus.

    python benchmarks/interpret_bench.py [--interpreter rules | vlm:<folder>] [--errors]

Each line of benchmarks/interpret_corpus.jsonl is one chat turn in context: the earlier edits
of the session ("history", oldest first), the message ("text") and what it should become
("expect", a label below), with the step ("target") and the instruction where they matter.
A turn counts as understood when its label and those fields all match.

Labels: an action name (undo, redo, revert, reset, again, options, help, clarify), a
refinement by what it changes ("refine stronger", "refine weaker", "refine closer",
"refine further"), or an edit by where it starts and what it may change ("edit global",
"edit local", "edit background", "edit from step", "edit after undo"). Target: at least 95 %
overall.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agent.command import Command, Turn
from agent.interpret import load_interpreter

CORPUS = Path(__file__).with_name("interpret_corpus.jsonl")


@dataclass(frozen=True)
class Defaults:
    """Scales the suggestions are relative to: InstructPix2Pix's usual ones."""

    text_scale: float = 7.5
    image_scale: float = 1.5
    image_guidance: bool = True


def history_turns(texts: list[str], defaults: Defaults) -> list[Turn]:
    """Earlier edits as the turn graph hands them over: each at the model's default scales."""
    return [
        Turn(text, Command.clamped(action="edit", instruction=text,
                                   text_scale=defaults.text_scale,
                                   image_scale=defaults.image_scale))
        for text in texts
    ]


def label(command: Command, history: list[Turn]) -> str:
    """The corpus label a command earns."""
    if command.action == "refine" and history:
        last = history[-1].command
        if command.image_scale != last.image_scale:
            return "refine closer" if command.image_scale > last.image_scale else "refine further"
        return "refine stronger" if command.text_scale > last.text_scale else "refine weaker"
    if command.action == "edit":
        if command.target is not None:
            return "edit from step"
        if command.undo_first:
            return "edit after undo"
        return f"edit {command.scope}"
    return command.action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interpreter", default="rules", help="rules or vlm:<folder>")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--errors", action="store_true", help="list every turn it got wrong")
    args = parser.parse_args()

    defaults = Defaults()
    interpreter = load_interpreter(args.interpreter, defaults, device="cpu")
    rows = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]
    confusion: Counter[tuple[str, str]] = Counter()
    right: Counter[str] = Counter()
    fallbacks = 0  # VLM answers that were unusable, so the rules answered
    errors = []
    start = time.perf_counter()
    for row in rows:
        history = history_turns(row["history"], defaults)
        try:
            command = interpreter.interpret(row["text"], None, history)
        except Exception as error:  # a crash is a turn not understood, and worth seeing
            errors.append((row, f"crash ({error!r})", None))
            confusion[row["expect"], "crash"] += 1
            continue
        got = label(command, history)
        confusion[row["expect"], got] += 1
        fallbacks += command.fallback_reason is not None
        details_match = all(getattr(command, key) == row[key] for key in ("target", "instruction")
                            if key in row)
        if got == row["expect"] and details_match:
            right[row["expect"]] += 1
        else:
            errors.append((row, got, command))
    seconds = time.perf_counter() - start

    expected = Counter(row["expect"] for row in rows)
    labels = sorted(set(expected) | {got for _, got in confusion})
    print(f"interpreter {args.interpreter}, {len(rows)} turns from {args.corpus.name}, "
          f"{seconds / len(rows) * 1000:.2f} ms a turn\n")
    print("| expected | turns | understood | accuracy |")
    print("| --- | --- | --- | --- |")
    for name in sorted(expected):
        print(f"| {name} | {expected[name]} | {right[name]} | {right[name] / expected[name]:.0%} |")
    total = sum(right.values())
    print(f"| **all** | {len(rows)} | {total} | **{total / len(rows):.1%}** (target >= 95%) |")

    asked = sum(count for (_, got), count in confusion.items() if got == "clarify")
    asked_needlessly = asked - confusion["clarify", "clarify"]
    print(f"\nAsked back (clarify) on {asked} turns ({asked / len(rows):.1%}); "
          f"{asked_needlessly} of them had a clear meaning in the corpus.")
    if args.interpreter != "rules":
        print(f"The model's answer was unusable on {fallbacks} turns, where the rules answered.")
    print()

    short = {name: name.replace("refine ", "r.").replace("edit ", "e.") for name in labels}
    print("Confusion (rows: expected, columns: got)\n")
    print("| expected | " + " | ".join(short[name] for name in labels) + " |")
    print("| --- |" + " --- |" * len(labels))
    for name in sorted(expected):
        cells = [str(confusion[name, got] or ".") for got in labels]
        print(f"| {name} | " + " | ".join(cells) + " |")

    if args.errors:
        print("\nMisunderstood turns:")
        for row, got, command in errors:
            wanted = {key: row[key] for key in ("target", "instruction") if key in row}
            said = f" (instruction {command.instruction!r}, target {command.target})" \
                if command else ""
            print(f"- {row['text']!r} (after {len(row['history'])} edits): expected "
                  f"{row['expect']} {wanted or ''}, got {got}{said}")


if __name__ == "__main__":
    main()
