"""Faults of the SQLite session store: a killed writer, a locked database, crash leftovers."""

from __future__ import annotations

import io
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from memory import Busy, NotFound, SessionStore
from memory.blobs import sha256_hex

OWNER = "alice"


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path: Path):
    store = SessionStore(f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data")
    yield store
    store.close()


def image_files(store: SessionStore, pattern: str = "*.png") -> set[Path]:
    return set((store.data_dir / "images").glob(f"*/*/{pattern}"))


def assert_consistent(store: SessionStore, session_id: str) -> None:
    """Every node's image is there and intact, the tree hangs together, the head is a node."""
    history = store.history(OWNER, session_id)
    ids = {node.id for node in history.nodes}
    assert history.session.head_id in ids
    assert all(node.parent_id in ids for node in history.nodes[1:])
    for node in history.nodes:
        assert sha256_hex(store.node_image(OWNER, session_id, node.id)) == node.image_sha256


# Commits 64×64 noise images forever, printing a line after each commit.
ENDLESS_COMMITS = """
import os, sys
from PIL import Image
from memory import SessionStore
store = SessionStore(sys.argv[1], sys.argv[2])
session = store.get_session("alice", sys.argv[3])
head = session.head_id
while True:
    image = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    image.save(sys.argv[4], format="PNG")
    with open(sys.argv[4], "rb") as file:
        head = store.commit_edit("alice", session.id, head, file.read()).id
    print(head, flush=True)
"""


def test_a_writer_killed_mid_commit_loses_nothing_committed(store, tmp_path) -> None:
    session = store.create_session(OWNER, png_bytes((0, 0, 0)))
    committed = 0
    for delay in (0.0, 0.013, 0.031):  # kill at different moments of a commit
        writer = subprocess.Popen(
            [sys.executable, "-c", ENDLESS_COMMITS, store.url, str(store.data_dir), session.id,
             str(tmp_path / "scratch.png")],
            stdout=subprocess.PIPE, text=True,
        )
        for _ in range(5):
            committed = max(committed, int(writer.stdout.readline()))
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()

        reopened = SessionStore(store.url, store.data_dir)
        assert_consistent(reopened, session.id)
        assert committed in {node.id for node in reopened.history(OWNER, session.id).nodes}
        reopened.close()

    # A kill can leave an image no node points to, or half a temporary file; gc removes them.
    store.collect_garbage()
    referenced = {node.image_sha256 for node in store.history(OWNER, session.id).nodes}
    assert {path.stem for path in image_files(store)} == referenced
    assert image_files(store, "*.tmp") == set()


def test_a_locked_database_makes_writers_wait_then_fail_clearly(tmp_path) -> None:
    store = SessionStore(f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data",
                         lock_timeout=0.5)
    session = store.create_session(OWNER, png_bytes((0, 0, 0)))
    other_writer = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")

    started = time.monotonic()
    with pytest.raises(Busy) as busy:
        store.commit_edit(OWNER, session.id, session.root_id, png_bytes((9, 9, 9)))
    waited = time.monotonic() - started

    assert str(busy.value) == (
        "The database stayed locked by another program for 0.5 s; try again when it has finished."
    )
    assert waited >= 0.5
    assert len(store.history(OWNER, session.id).nodes) == 1  # reading still works meanwhile
    assert len(image_files(store)) == 1  # the refused edit's image was never written
    other_writer.execute("ROLLBACK")
    node = store.commit_edit(OWNER, session.id, session.root_id, png_bytes((9, 9, 9)))
    assert store.get_session(OWNER, session.id).head_id == node.id
    assert other_writer.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    other_writer.close()
    store.close()


def test_garbage_collection_removes_orphans_and_half_written_files(store) -> None:
    session = store.create_session(OWNER, png_bytes((0, 0, 0)))
    orphan = store.data_dir / "images" / "ab" / "cd" / f"abcd{'0' * 60}.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(png_bytes((1, 2, 3)))
    half_written = orphan.with_name("tmpk2j3h4.tmp")
    half_written.write_bytes(b"\x89PNG")

    assert store.collect_garbage() == 1

    assert not orphan.exists() and not half_written.exists()
    assert_consistent(store, session.id)


def test_a_missing_image_file_is_one_clear_sentence(store) -> None:
    session = store.create_session(OWNER, png_bytes((0, 0, 0)))
    [image] = image_files(store)
    image.unlink()

    with pytest.raises(NotFound, match=r"is missing from .*; restore that folder from a backup\.$"):
        store.node_image(OWNER, session.id)
