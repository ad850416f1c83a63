"""Two edits at once: how much slower each gets, with torch's default threads and pixchat's.

Every edit is timed by the clock on the wall (what a person waits), in three situations:
one edit alone, two processes editing side by side (two `pixchat` commands), and two threads
editing in one process (two people in one app). Target: an edit with a second one beside it
takes at most 2.5 times as long as alone. Every situation is measured once per round, the
rounds one after another, and each cell is the median over all rounds: a machine whose load
changes during the run slows every cell alike. The load average before and after the run is
printed with the table.

Usage: python benchmarks/threads_bench.py [--edits N] [--rounds N] [--model M]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `editor` importable

TARGET = 2.5
SITUATIONS = {"alone": (1, 1), "two processes": (2, 1), "two threads": (1, 2)}  # processes, threads


def edit_times(model: str, torch_threads: int, threads: int, edits: int, ready, results) -> None:
    """In a fresh process: load `model`, then edit `edits` times in each of `threads` threads,
    starting together with every other worker; put each edit's wall seconds on `results`."""
    import torch

    from editor import EditRequest, Pix2PixEditor
    from editor.demo.world import Scene, Shape, render_image

    torch.set_num_threads(torch_threads)
    editor = Pix2PixEditor.from_pretrained(model, device="cpu")
    scene = render_image(Scene("white", (Shape("circle", "red", 12, 12, 6),)))
    request = EditRequest(scene, "make the circle blue", seed=0)
    editor.edit(request)  # warm-up
    start_together = threading.Barrier(threads)

    def run() -> None:
        start_together.wait()
        for _ in range(edits):
            start = perf_counter()
            editor.edit(request)
            results.put(perf_counter() - start)

    ready.wait()  # every process has loaded its model
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def edit_seconds(model: str, torch_threads: int, processes: int, threads: int, edits: int):
    """The wall seconds of every edit, with `processes` × `threads` editing at once."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=edit_times,
                               args=(model, torch_threads, threads, edits, ready, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    times = [results.get() for _ in range(processes * threads * edits)]
    for worker in workers:
        worker.join()
    return times


def main() -> None:
    from editor.models import DEMO_MODEL_DIR
    from editor.threads import available_cores, threads_per_edit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEMO_MODEL_DIR), help="model folder (demo)")
    parser.add_argument("--edits", type=int, default=3, help="edits per worker (default: 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    args = parser.parse_args()

    cores = available_cores()
    settings = {f"torch's default: {cores}": cores,
                f"pixchat's: {threads_per_edit()}": threads_per_edit()}
    print(f"{cores} cores; load average before the run (1, 5, 15 min): {load_average()}")
    seconds: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for label, torch_threads in settings.items():
            for situation, (processes, threads) in SITUATIONS.items():
                seconds.setdefault((label, situation), []).extend(
                    edit_seconds(args.model, torch_threads, processes, threads, args.edits))
    print(f"load average after the run: {load_average()}\n")

    print("| torch threads per process | alone (s) | two processes (s each) | ratio "
          "| two threads (s each) | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for label in settings:
        alone, processes, threads = (statistics.median(seconds[label, situation])
                                     for situation in SITUATIONS)
        ratios = processes / alone, threads / alone
        met = "yes" if max(ratios) <= TARGET else "no"
        print(f"| {label} | {alone:.2f} | {processes:.2f} | {ratios[0]:.2f} "
              f"| {threads:.2f} | {ratios[1]:.2f} | <= {TARGET} | {met} |")


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
