"""Speed and space of the session store on SQLite, against issue 2's targets.

    .venv/bin/python benchmarks/store_bench.py

Prints a Markdown table. Each time is a median of wall-clock time, with the median CPU
time of this process beside it: on a busy machine the gap is time spent waiting for a
CPU (or for the disk), not work the store does. Commits are timed twice, side by side:
with the data folder on disk, as a person has it, and in memory (/dev/shm), where
flushing to disk costs nothing. The difference is the two fsyncs (the image file, then
its folder) that make a commit survive a power cut; on a slow virtual disk they alone
can exceed the 10 ms target.
"""

from __future__ import annotations

import io
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sqlalchemy
from PIL import Image

from memory import SessionStore

OWNER = "bench"
COMMITS = 30  # 512×512 edits timed per place
REPEATS = 50  # undo/redo pairs, history reads
HISTORY_NODES = 1_000
REVERTS = 100


def photo_like_pngs(count: int, size: int = 512) -> list[bytes]:
    """Distinct PNG-encoded images that compress like photos (gradients plus grain)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x / 2, y / 2, (x + y) / 4], axis=-1)
    pngs = []
    for index in range(count):
        pixels = (base + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)
        pixels[0, 0] = [index % 256, index // 256, 0]
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


def tiny_png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (index % 256, index // 256 % 256, 7)).save(buffer, format="PNG")
    return buffer.getvalue()


class Timer:
    """Collects wall-clock and CPU durations of repeated runs; reports their medians."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, run: Callable[[], object]) -> object:
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        result = run()
        self.wall.append(time.perf_counter() - wall_start)
        self.cpu.append(time.process_time() - cpu_start)
        return result

    def repeat(self, run: Callable[[], object], times: int) -> Timer:
        for _ in range(times):
            self.time(run)
        return self

    def row(self, name: str, target_ms: float) -> tuple[str, ...]:
        wall, cpu = (statistics.median(durations) * 1000 for durations in (self.wall, self.cpu))
        return (name, f"{wall:.1f} ms", f"{cpu:.1f} ms", f"≤ {target_ms:g} ms",
                f"{wall / target_ms:.2f}")


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def database_bytes(path: Path) -> int:
    """Size of the SQLite file once its write-ahead log is folded back in."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def open_store(folder: Path) -> SessionStore:
    return SessionStore(f"sqlite:///{folder / 'pixchat.db'}", folder)


def bytes_row(name: str, added: int, target: str = "") -> tuple[str, ...]:
    return (name, f"{added:,} B", "", target, "")


def time_commits(folder: Path, pngs: list[bytes]) -> Timer:
    """Commit each of `pngs` as the next edit of one session."""
    store = open_store(folder)
    session = store.create_session(OWNER, pngs[0])
    head = session.root_id
    timer = Timer()
    for png in pngs[1:]:
        head = timer.time(lambda png=png, head=head: store.commit_edit(
            OWNER, session.id, head, png, instruction="an edit")).id
    store.close()
    return timer


def measure_long_session(workspace: Path) -> list[tuple[str, ...]]:
    """Undo, redo, history and bytes written, in a 1,000-node session."""
    # Mostly one line of edits, with a branch every tenth edit.
    store = open_store(workspace)
    session = store.create_session(OWNER, tiny_png(0), title="long session")
    head = session.root_id
    for index in range(1, HISTORY_NODES):
        if index % 10 == 0:
            head = store.undo(OWNER, session.id).node.id
        head = store.commit_edit(OWNER, session.id, head, tiny_png(index),
                                 instruction=f"edit {index}", text_scale=7.5, image_scale=1.5,
                                 seed=index, metrics={"drift": 0.1}).id
    undo = Timer().repeat(lambda: store.undo(OWNER, session.id), REPEATS)
    redo = Timer().repeat(lambda: store.redo(OWNER, session.id), REPEATS)
    history = Timer().repeat(lambda: store.history(OWNER, session.id), REPEATS)
    assert len(store.history(OWNER, session.id).nodes) == HISTORY_NODES

    images, database = workspace / "images", workspace / "pixchat.db"
    node_ids = [node.id for node in store.history(OWNER, session.id).nodes]
    images_before, database_before = folder_bytes(images), database_bytes(database)
    for node_id in random.Random(0).sample(node_ids, REVERTS):
        store.revert(OWNER, session.id, node_id)
    revert_images = folder_bytes(images) - images_before
    revert_database = database_bytes(database) - database_before

    head = store.get_session(OWNER, session.id).head_id
    same_image = store.node_image(OWNER, session.id, head)
    images_before, database_before = folder_bytes(images), database_bytes(database)
    store.commit_edit(OWNER, session.id, head, same_image, instruction="changed nothing")
    repeat_images = folder_bytes(images) - images_before
    repeat_database = database_bytes(database) - database_before
    store.close()

    return [
        undo.row("undo in a 1,000-node session", 2),
        redo.row("redo in a 1,000-node session", 2),
        history.row("history of a 1,000-node session", 50),
        bytes_row(f"image bytes added by {REVERTS} reverts", revert_images, "0 B"),
        bytes_row("image bytes added by re-committing an identical image", repeat_images, "0 B"),
        bytes_row(f"database bytes added by {REVERTS} reverts", revert_database),
        bytes_row("database bytes added by re-committing an identical image (its node row)",
                  repeat_database),
    ]


def main() -> None:
    load_at_start = os.getloadavg()[0]
    pngs = photo_like_pngs(COMMITS + 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pixchat-bench-") as on_disk:
        rows.append(time_commits(Path(on_disk), pngs).row(
            "commit a 512×512 edit, data folder on disk", 10))
    if Path("/dev/shm").is_dir():
        with tempfile.TemporaryDirectory(dir="/dev/shm") as in_memory:
            rows.append(time_commits(Path(in_memory), pngs).row(
                "commit a 512×512 edit, data folder in memory", 10))
    with tempfile.TemporaryDirectory(prefix="pixchat-bench-") as workspace:
        rows += measure_long_session(Path(workspace))

    print(f"pixchat session store on SQLite {sqlite3.sqlite_version}, SQLAlchemy "
          f"{sqlalchemy.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {load_at_start:.1f} at start; PNG encoding is not timed.\n")
    print("| measurement | median | CPU time | target | median / target |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
