"""How much abuse pixchat survives, in figures (issue #16): one figure per line.

    python benchmarks/reliability.py                  # the small size, which CI runs
    python benchmarks/reliability.py --size full      # the full size, run by hand
    python benchmarks/reliability.py --part kills --part images --backend sqlite

Parts:

- kills: a child process commits edits in a loop (the store itself, small PNGs) and is
  killed with SIGKILL at a random moment, again and again; after each kill the store must
  open, list only whole nodes, every node's image must read back with its hash, no row may
  point to a missing image, and every commit the child saw return must be there. `gc`
  then removes what a kill left half-done. SQLite, and PostgreSQL where there is a server.
- contention: several processes chat on one session at once through the real agent (rule
  interpreter, turn graph, store); every node they were told about must be in a tree that
  hangs together, and no raw database error may reach them.
- images: every kind of bad upload (`bad_inputs.bad_images`) through `pixchat new`.
- chat: hostile messages and unusable VLM answers through the turn graph; the editor records
  every scale it is asked for.
- isolation: every public method of the store, called on another owner's session.
- disk: a data folder on a small tmpfs that fills up, then turns read-only.

PostgreSQL parts run where --pg or $PIXCHAT_TEST_PG_URL names a server (`.ci/run` starts
one); elsewhere their lines say they were skipped. `tests/test_reliability.py` runs the small
size, part by part, and holds every figure to its target.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from bad_inputs import bad_images, bad_messages, bad_vlm_answers, encode, noise  # noqa: E402

from editor.base import EditRequest, EditResult, ModelDefaults  # noqa: E402
from memory import History, SessionStore, StoreError  # noqa: E402
from memory.blobs import sha256_hex  # noqa: E402

OWNER, INTRUDER = "alice", "mallory"


@dataclass(frozen=True)
class Size:
    kills: int
    sqlite_chat: tuple[int, int]  # processes × turns each
    postgres_chat: tuple[int, int]
    demo_editor: bool  # chat with the embedded demo model (else a cheap stand-in editor)
    disk_rounds: int


SIZES = {
    "ci": Size(kills=100, sqlite_chat=(2, 12), postgres_chat=(4, 6), demo_editor=False,
               disk_rounds=3),
    "full": Size(kills=1000, sqlite_chat=(2, 100), postgres_chat=(8, 25), demo_editor=True,
                 disk_rounds=10),
}


def figure(name: str, value: object, target: str | None = None) -> None:
    """One line: `name: value`, and the target where there is one."""
    assert ": " not in name, name  # the first ": " ends the name
    print(f"{name}: {value}" + (f" (target {target})" if target else ""), flush=True)


def note(text: str) -> None:
    """Detail for whoever reads a failure; not a figure."""
    print(f"  {text}", file=sys.stderr, flush=True)


def stopwatch() -> Callable[[], str]:
    """Started now; when called, says the time since on the wall and in CPU (this process
    and the children it waited for)."""
    def cpu() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                           resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    wall, used = time.perf_counter(), cpu()
    return lambda: (f"{time.perf_counter() - wall:.1f} on the wall, {cpu() - used:.1f} of CPU "
                    "(this process and its children)")


def one_sentence(message: str) -> bool:
    """A message a person can read: one line, one sentence, no Python in it."""
    return ("\n" not in message and message.endswith((".", "?", ")")) and ". " not in message
            and "Traceback" not in message and "Error" not in message and len(message) < 400)


def small_png(rng: random.Random, side: int = 12) -> bytes:
    return encode(Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)), "PNG")


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections work in a fresh schema of the server, dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    schema = f"reliability_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def backends(work: Path, pg_url: str | None, only: str | None = None
             ) -> Iterator[tuple[str, str | None]]:
    """("SQLite", its URL), then ("PostgreSQL", a fresh schema's URL, or None: no server);
    `only` names one of the two."""
    if only in (None, "sqlite"):
        yield "SQLite", f"sqlite:///{work / 'pixchat.db'}"
    if only == "sqlite":
        return
    if pg_url is None:
        yield "PostgreSQL", None
        return
    with postgres_schema(pg_url) as url:
        yield "PostgreSQL", url


# --- what a store must look like -------------------------------------------------------


def tree_problems(store: SessionStore, owner: str, session_id: str,
                  known_good: set[str] | None = None) -> tuple[History, list[str]]:
    """The session's history, and what is wrong with it: nodes whose parent or image is
    missing, an image whose bytes do not hash to its name, a head off the tree, a redo path
    that does not lead to the head. `known_good` holds hashes already read right (blobs never
    change): each image is then read once, and added to it."""
    history = store.history(owner, session_id)
    nodes = {node.id: node for node in history.nodes}
    problems = [f"node {node.id} has no parent {node.parent_id}" for node in history.nodes
                if node.parent_id is not None and node.parent_id not in nodes]
    if history.session.head_id not in nodes or history.session.root_id not in nodes:
        problems.append("the head or the root is not a node")
    if history.head_path[0] != history.session.root_id:
        problems.append("the head path does not start at the root")
    for above, below in zip(history.head_path, history.head_path[1:], strict=False):
        if nodes[above].redo_child_id != below:
            problems.append(f"redo from {above} leads to {nodes[above].redo_child_id}, "
                            f"not to {below} on the way to the head")
    for node in history.nodes:
        if known_good is not None and node.image_sha256 in known_good:
            continue
        try:
            image = store.node_image(owner, session_id, node.id)
        except StoreError as error:
            problems.append(f"node {node.id}: {error}")
            continue
        if sha256_hex(image) != node.image_sha256:
            problems.append(f"node {node.id}'s image does not hash to its name")
        elif known_good is not None:
            known_good.add(node.image_sha256)
    return history, problems


def image_files(data_dir: Path, pattern: str = "*.png") -> set[str]:
    return {path.name for path in (data_dir / "images").glob(f"*/*/{pattern}")}


def referenced_images(history: History) -> set[str]:
    return {f"{sha256}.png" for node in history.nodes
            for sha256 in (node.image_sha256, node.mask_sha256) if sha256}


# --- 1. kill -9 during commits ----------------------------------------------------------


def commit_forever(url: str, data_dir: Path, session_id: str, report: int, seed: int) -> None:
    """The child: open the store, say so, then commit (and now and then undo, revert or
    write a message) until killed, reporting each commit's node id once it has returned."""
    rng = random.Random(seed)
    store = SessionStore(url, data_dir)
    os.write(report, b"open\n")
    head = store.get_session(OWNER, session_id).head_id
    while True:
        roll = rng.random()
        if roll < 0.1:
            head = store.undo(OWNER, session_id).node.id
        elif roll < 0.15:
            head = store.revert(OWNER, session_id, store.get_session(OWNER, session_id).root_id
                                ).node.id
        elif roll < 0.2:
            store.add_message(OWNER, session_id, "user", "make it darker", node_id=head)
        else:
            png = small_png(rng)
            mask = encode(Image.new("L", (12, 12), rng.choice((0, 255))), "PNG")
            head = store.commit_edit(OWNER, session_id, head, png, mask_png=mask,
                                     chat_text="darker", instruction="make it darker",
                                     text_scale=7.5, image_scale=1.5, seed=rng.randrange(9999),
                                     metrics={"kill": seed}).id
            os.write(report, f"{head}\n".encode())


def kill_part(size: Size, work: Path, pg_url: str | None, rng: random.Random,
              only: str | None = None) -> None:
    for name, url in backends(work / "kills", pg_url, only):
        if url is None:
            figure(f"kill -9 during commits, {name}", "skipped (no server: set "
                   "PIXCHAT_TEST_PG_URL or --pg)")
            continue
        data_dir = work / "kills" / name
        store = SessionStore(url, data_dir)
        session_id = store.create_session(OWNER, small_png(rng)).id
        store.close()
        whole = failed_to_open = lost = orphans = half_written = confirmed_total = 0
        known_good: set[str] = set()
        elapsed = stopwatch()
        for kill in range(size.kills):
            confirmed = run_and_kill(url, data_dir, session_id, rng, seed=kill)
            confirmed_total += len(confirmed)
            try:
                store = SessionStore(url, data_dir)
            except StoreError as error:
                failed_to_open += 1
                note(f"kill {kill}: the store did not open: {error}")
                continue
            history, problems = tree_problems(store, OWNER, session_id, known_good)
            missing = confirmed - {node.id for node in history.nodes}
            lost += len(missing)
            if missing:
                problems.append(f"lost the confirmed commits {sorted(missing)}")
            if missing_images := referenced_images(history) - image_files(data_dir):
                problems.append(f"rows point to missing images: {missing_images}")
            half_written += len(image_files(data_dir, "*.tmp"))
            orphans += store.collect_garbage()
            # On PostgreSQL a commit the kill cut short can still land after the history
            # above was read (its COMMIT had reached the server): gc waits for it and keeps
            # its image, so compare with the references as they stand after gc.
            if image_files(data_dir, "*") != referenced_images(store.history(OWNER, session_id)):
                problems.append("gc left files that nothing references")
            if problems:
                note(f"kill {kill}: {problems}")
            else:
                whole += 1
            store.close()
        store = SessionStore(url, data_dir)
        history, problems = tree_problems(store, OWNER, session_id)  # every image read again
        store.close()
        figure(f"kill -9 during commits, {name}, kills after which the store was whole",
               f"{whole} of {size.kills}", f"{size.kills} of {size.kills}")
        figure(f"kill -9 during commits, {name}, kills after which the store did not open",
               failed_to_open, "0")
        figure(f"kill -9 during commits, {name}, confirmed commits lost",
               f"{lost} of {confirmed_total}", "0")
        figure(f"kill -9 during commits, {name}, nodes at the end, and problems with them",
               f"{len(history.nodes)}, {len(problems)}", "0 problems")
        figure(f"kill -9 during commits, {name}, unreferenced images and half-written files "
               "removed by gc", f"{orphans} and {half_written}")
        figure(f"kill -9 during commits, {name}, seconds", elapsed())


def run_and_kill(url: str, data_dir: Path, session_id: str, rng: random.Random,
                 seed: int) -> set[int]:
    """Fork a committing child, SIGKILL it at a random moment of its work, and return the
    node ids of the commits it saw return."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns
        os.close(read_end)
        try:
            commit_forever(url, data_dir, session_id, write_end, seed)
        finally:
            os._exit(1)
    os.close(write_end)
    confirmed = set()
    with os.fdopen(read_end, "rb") as reports:
        reports.readline()  # "open": the store is open, the commits begin
        # Let 0 to 3 commits return, then kill at a random moment of the next one (or two).
        last, commit_seconds = time.perf_counter(), 0.05
        for _ in range(rng.randrange(4)):
            line = reports.readline()
            if not line:
                break
            confirmed.add(int(line))
            now = time.perf_counter()
            last, commit_seconds = now, now - last
        time.sleep(rng.uniform(0, 2 * commit_seconds))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return confirmed | {int(line) for line in reports.read().split()}


# --- 2. contention ----------------------------------------------------------------------

SCRIPT = ["make it darker", "stronger", "make the circle blue", "undo", "again", "redo",
          "subtler", "make the background green", "go back to step 1", "show me options",
          "make it brighter", "undo", "a bit less", "reset"]


class CheapEditor:
    """A stand-in for the diffusion model: darkens the picture by s_T / 20 in a millisecond.
    Everything around it (interpreter, turn graph, drift check, compositing, store) is real."""

    model_id = "cheap"
    device = "cpu"
    defaults = ModelDefaults(text_scale=7.5, image_scale=1.5, steps=1, size=64)

    def edit(self, request: EditRequest) -> EditResult:
        text_scale = request.text_scale or self.defaults.text_scale
        image_scale = request.image_scale or self.defaults.image_scale
        factor = max(0.0, 1 - text_scale / 20)
        image = request.image.point(lambda value: int(value * factor))
        return EditResult(image, request.image, Image.new("L", image.size, 255), self.model_id,
                          None, "none", 1, request.seed or random.randrange(2**31),
                          text_scale, image_scale, *image.size, "cpu", "float32")

    def grid(self, request, text_scales=None, image_scales=None):
        from dataclasses import replace

        from editor.grid import GridResult, contact_sheet

        results = [[self.edit(replace(request, text_scale=t, image_scale=i))
                    for i in image_scales or [1.5]] for t in text_scales or [7.5]]
        sheet = contact_sheet([[r.image for r in row] for row in results],
                              text_scales or [7.5], image_scales or [1.5], cell_size=32)
        return GridResult(results, sheet, list(text_scales or [7.5]), list(image_scales or [1.5]))


class RecordingEditor:
    """Passes every request on to `editor` and keeps the scales it was asked for."""

    def __init__(self, editor) -> None:
        self.editor, self.defaults = editor, editor.defaults
        self.model_id, self.device = editor.model_id, editor.device
        self.scales: list[tuple[float | None, float | None]] = []

    def repertoire_for(self, image):
        from agent.repertoire import repertoire_of

        return repertoire_of(self.editor, image)

    def edit(self, request: EditRequest) -> EditResult:
        self.scales.append((request.text_scale, request.image_scale))
        return self.editor.edit(request)

    def grid(self, request, text_scales=None, image_scales=None):
        self.scales += [(t, i) for t in text_scales or [] for i in image_scales or []]
        return self.editor.grid(request, text_scales, image_scales)


def scene_png() -> bytes:
    """The demo world's scene (a red circle and a green square on white) as a PNG."""
    from editor.demo import world

    scene = world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),
                                  world.Shape("square", "green", 22, 22, 6)))
    return encode(world.render_image(scene), "PNG")


def open_chat_agent(store: SessionStore, demo_editor: bool):
    from agent.interpret import load_interpreter
    from agent.setup import open_editor
    from agent.turn import Agent

    editor = open_editor("demo", warn=note) if demo_editor else CheapEditor()
    return Agent(store, RecordingEditor(editor), load_interpreter("rules", editor.defaults),
                 owner=OWNER)


def chat_worker(url: str, data_dir: Path, session_id: str, turns: int, seed: int,
                demo_editor: bool, out: Path) -> None:
    """A child: `turns` chat turns on the shared session; writes what it saw to `out`."""
    from agent.errors import USER_ERRORS
    from agent.turn import choose_option, run_turn

    rng = random.Random(seed)
    seen = {"nodes": [], "sentences": [], "tracebacks": [], "turns": 0}
    store = SessionStore(url, data_dir)
    agent = open_chat_agent(store, demo_editor)
    for turn in range(turns):
        text = SCRIPT[(seed + turn) % len(SCRIPT)]
        try:
            result = run_turn(agent, session_id, text)
            if result.options:
                result = choose_option(agent, result.options, rng.randrange(9))
            seen["turns"] += 1
            if result.changed:
                seen["nodes"].append(result.node_id)
        except USER_ERRORS as error:
            seen["sentences"].append(str(error))
        except Exception:
            seen["tracebacks"].append(traceback.format_exc())
    out.write_text(json.dumps(seen))


def contention_part(size: Size, work: Path, pg_url: str | None, only: str | None = None
                    ) -> None:
    import agent.turn  # noqa: F401  (once, here: the forked workers share it)

    editor = "the embedded demo model" if size.demo_editor else \
        "a stand-in editor (CheapEditor: the store and agent are real)"
    figure("contention, editor", editor)
    for name, url in backends(work / "contention", pg_url, only):
        processes, turns = size.sqlite_chat if name == "SQLite" else size.postgres_chat
        label = f"contention, {name}, {processes} processes × {turns} chat turns"
        if url is None:
            figure(label, "skipped (no server: set PIXCHAT_TEST_PG_URL or --pg)")
            continue
        data_dir = work / "contention" / name
        store = SessionStore(url, data_dir)
        session_id = store.create_session(OWNER, scene_png()).id
        elapsed = stopwatch()
        children = []
        for worker in range(processes):
            out = work / f"worker-{name}-{worker}.json"
            pid = os.fork()
            if pid == 0:
                try:
                    chat_worker(url, data_dir, session_id, turns, worker, size.demo_editor, out)
                    os._exit(0)
                finally:
                    os._exit(1)
            children.append((pid, out))
        seen = []
        for pid, out in children:
            _, status = os.waitpid(pid, 0)
            seen.append(json.loads(out.read_text()) if out.exists() else
                        {"nodes": [], "sentences": [], "turns": 0,
                         "tracebacks": [f"the worker died (status {status})"]})
        took = elapsed()
        history, problems = tree_problems(store, OWNER, session_id)
        present = {node.id for node in history.nodes}
        told = {node for worker in seen for node in worker["nodes"]}
        sentences = [s for worker in seen for s in worker["sentences"]]
        tracebacks = [t for worker in seen for t in worker["tracebacks"]]
        for text in problems + tracebacks + sentences:
            note(f"{name}: {text}")
        raw = [s for s in sentences + tracebacks if "database is locked" in s or "deadlock" in s
               or not one_sentence(s)]
        messages = store.messages(OWNER, session_id)
        store.close()
        figure(f"{label}, turns completed", f"{sum(w['turns'] for w in seen)} of "
               f"{processes * turns}")
        figure(f"{label}, nodes committed, and lost", f"{len(told)}, {len(told - present)}",
               "0 lost")
        figure(f"{label}, tree problems", len(problems), "0")
        figure(f"{label}, turns refused with one sentence (busy store)", len(sentences))
        figure(f"{label}, raw database errors or tracebacks shown", len(raw) + len(tracebacks),
               "0")
        figure(f"{label}, transcript messages, 2 a turn", f"{len(messages)} of "
               f"{2 * sum(w['turns'] for w in seen)}")
        figure(f"{label}, seconds", took)


# --- 3. bad images ----------------------------------------------------------------------


def run_cli(argv: list[str]) -> tuple[int | None, str, str]:
    """`pixchat ARGV` in this process, its output through strict UTF-8 like a terminal's;
    the exit status is None when an exception escaped (a traceback)."""
    from agent.cli import main

    stdout, stderr = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(stdout, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(stderr, encoding="utf-8", errors="strict", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit:  # argparse's usage errors
            status = exit.code if isinstance(exit.code, int) else 2
        except BaseException:
            status = None
            traceback.print_exc(file=sys.__stderr__)
    return status, stdout.getvalue().decode(), stderr.getvalue().decode()


def images_part(work: Path) -> None:
    data_dir = work / "images"
    store = SessionStore(None, data_dir)
    samples = bad_images()
    refused = accepted = expected_refusals = expected_accepts = 0
    tracebacks = written = 0
    for sample in samples:
        upload = work / "upload"
        upload.write_bytes(sample.data)
        before = (len(store.list_sessions(OWNER)), image_files(data_dir))
        status, out, err = run_cli(["--data", str(data_dir), "--owner", OWNER, "new",
                                    str(upload)])
        after = (len(store.list_sessions(OWNER)), image_files(data_dir))
        message = err.strip().removeprefix("error: ")
        expected_refusals += sample.expect == "refuse"
        expected_accepts += sample.expect == "accept"
        if status is None:
            tracebacks += 1
            note(f"{sample.name}: a traceback")
        elif status == 1:
            if after != before:
                written += 1
                note(f"{sample.name}: refused, but something was stored")
            if sample.expect != "accept" and one_sentence(message):
                refused += 1
            else:
                note(f"{sample.name}: refused with {message!r}")
        elif status == 0:
            session_id = out.split()[-1]
            stored = Image.open(io.BytesIO(store.node_image(OWNER, session_id)))
            if sample.expect != "refuse" and sample.check is not None and sample.check(stored):
                accepted += 1
            else:
                note(f"{sample.name}: accepted, {stored.size}, which it should not be")
        else:
            tracebacks += 1
            note(f"{sample.name}: exit status {status}: {err!r}")
    store.close()
    either = len(samples) - expected_refusals - expected_accepts
    figure("bad images, kinds", len(samples), ">= 60")
    figure("bad images, refused with one sentence, or accepted with the right pixels",
           f"{refused + accepted} of {len(samples)}", "all")
    figure("bad images, of which refused, and accepted (orientation, 16-bit, CMYK, ...)",
           f"{refused}, {accepted} ({expected_refusals} must refuse, {expected_accepts} must "
           f"accept, {either} either)")
    figure("bad images, tracebacks", tracebacks, "0")
    figure("bad images, refusals that stored anything", written, "0")


# --- 4. bad chat input and bad VLM answers ----------------------------------------------


def chat_part(work: Path) -> None:
    from agent.command import DEFAULT_LIMITS
    from agent.errors import USER_ERRORS
    from agent.turn import choose_option, run_turn

    store = SessionStore(None, work / "chat")
    agent = open_chat_agent(store, demo_editor=False)
    recorder: RecordingEditor = agent.editor  # type: ignore[assignment]
    rules = agent.interpreter
    session_id = store.create_session(OWNER, scene_png()).id
    sentences = tracebacks = 0

    def turn(text: str) -> None:
        nonlocal sentences, tracebacks
        try:
            result = run_turn(agent, session_id, text)
            if result.options:
                choose_option(agent, result.options, 0)
        except USER_ERRORS as error:
            if one_sentence(str(error)):
                sentences += 1
                note(f"{text[:60]!r}: {error}")
            else:
                tracebacks += 1
                note(f"{text[:60]!r}: {error}")
        except Exception:
            tracebacks += 1
            note(f"{text[:60]!r}: {traceback.format_exc()}")

    messages = bad_messages()
    for text in messages:
        turn(text)
    cli_tracebacks = 0
    for text in messages:
        status, _, err = run_cli(["--data", str(work / "chat"), "interpret", text, "--json"])
        if status is None or (status != 0 and not one_sentence(err.strip()[7:])):
            cli_tracebacks += 1
            note(f"pixchat interpret {text[:60]!r}: status {status}, {err[-300:]!r}")

    answers = bad_vlm_answers()
    for answer in answers:
        agent.interpreter = canned_vlm(answer, rules)
        turn("make it darker")
    agent.interpreter = rules

    text_low, text_high = DEFAULT_LIMITS.text_scale
    image_low, image_high = DEFAULT_LIMITS.image_scale
    outside = [(t, i) for t, i in recorder.scales
               if (t is not None and not text_low <= t <= text_high)
               or (i is not None and not image_low <= i <= image_high)]
    for scales in outside:
        note(f"the editor was asked for s_T {scales[0]}, s_I {scales[1]}")
    _, problems = tree_problems(store, OWNER, session_id)
    store.close()
    figure("bad chat input, messages", len(messages), ">= 60")
    figure("bad chat input, VLM answers", len(answers), ">= 60")
    figure("bad chat input, tracebacks in turns", tracebacks, "0")
    figure("bad chat input, tracebacks in pixchat interpret", cli_tracebacks, "0")
    figure("bad chat input, turns refused with one sentence", sentences)
    figure("bad chat input, edits the editor ran, and with a scale outside the safe range",
           f"{len(recorder.scales)}, {len(outside)}", "0 outside")
    figure("bad chat input, session problems afterwards", len(problems), "0")


def canned_vlm(answer: str, rules):
    """A VLM interpreter whose model always writes `answer`: the real parsing and fallback."""
    from agent.vlm import VLMInterpreter

    class Canned(VLMInterpreter):
        def answer(self, text, image, history) -> str:
            return answer

    return Canned(None, None, rules.defaults, rules.limits)


# --- 5. isolation -----------------------------------------------------------------------

# How each public store method is called on someone else's session. A method missing here
# and from OWN_ONLY counts as unchecked, and fails the figure.
CROSS_OWNER_CALLS: dict[str, Callable[[SessionStore, str, int, Path], object]] = {
    "get_session": lambda s, sid, node, tmp: s.get_session(INTRUDER, sid),
    "rename": lambda s, sid, node, tmp: s.rename(INTRUDER, sid, "mine now"),
    "delete_session": lambda s, sid, node, tmp: s.delete_session(INTRUDER, sid),
    "commit_edit": lambda s, sid, node, tmp: s.commit_edit(INTRUDER, sid, node, small_png(
        random.Random(0))),
    "undo": lambda s, sid, node, tmp: s.undo(INTRUDER, sid),
    "redo": lambda s, sid, node, tmp: s.redo(INTRUDER, sid),
    "revert": lambda s, sid, node, tmp: s.revert(INTRUDER, sid, node),
    "reset": lambda s, sid, node, tmp: s.reset(INTRUDER, sid),
    "history": lambda s, sid, node, tmp: s.history(INTRUDER, sid),
    "node_image": lambda s, sid, node, tmp: s.node_image(INTRUDER, sid, node),
    "node_mask": lambda s, sid, node, tmp: s.node_mask(INTRUDER, sid, node),
    "add_message": lambda s, sid, node, tmp: s.add_message(INTRUDER, sid, "user", "hi"),
    "messages": lambda s, sid, node, tmp: s.messages(INTRUDER, sid),
    "export_session": lambda s, sid, node, tmp: s.export_session(INTRUDER, sid,
                                                                 tmp / "stolen.zip"),
}
# Methods that name no session: each acts on the caller's own sessions, or on none.
OWN_ONLY = {
    "create_session": "makes a session of the caller's own",
    "import_session": "makes a session of the caller's own",
    "list_sessions": "lists the caller's own sessions (checked below)",
    "collect_garbage": "removes images no session uses, names no session",
    "close": "closes the store",
}
# Calls with another session's node, on the intruder's own session.
CROSS_SESSION_CALLS: dict[str, Callable[[SessionStore, str, int], object]] = {
    "commit_edit": lambda s, own, node: s.commit_edit(INTRUDER, own, node,
                                                      small_png(random.Random(1))),
    "revert": lambda s, own, node: s.revert(INTRUDER, own, node),
    "node_image": lambda s, own, node: s.node_image(INTRUDER, own, node),
    "node_mask": lambda s, own, node: s.node_mask(INTRUDER, own, node),
    "add_message": lambda s, own, node: s.add_message(INTRUDER, own, "user", "hi", node),
}
BAD_SESSION_IDS = ["../../etc/passwd", "/etc/passwd", "images/ab/cd", "' OR '1'='1",
                   "x'; DROP TABLE sessions; --", "1 OR 1=1", "%", "*", "", " ", "\x00",
                   "\ud800", "a" * 10_000, "..", "~", "$(rm -rf /)"]


def public_methods() -> list[str]:
    return sorted(name for name, _ in inspect.getmembers(SessionStore, inspect.isfunction)
                  if not name.startswith("_"))


def isolation_part(work: Path, pg_url: str | None, only: str | None = None) -> None:
    for name, url in backends(work / "isolation", pg_url, only):
        if url is None:
            figure(f"isolation, {name}", "skipped (no server: set PIXCHAT_TEST_PG_URL or --pg)")
            continue
        store = SessionStore(url, work / "isolation" / name)
        rng = random.Random(2)
        victim = store.create_session(OWNER, small_png(rng), "mine")
        edit = store.commit_edit(OWNER, victim.id, victim.root_id, small_png(rng),
                                 mask_png=encode(Image.new("L", (12, 12), 255), "PNG"))
        store.add_message(OWNER, victim.id, "user", "hello", edit.id)
        own = store.create_session(INTRUDER, small_png(rng)).id
        before = (store.history(OWNER, victim.id), store.messages(OWNER, victim.id))
        methods = public_methods()
        unchecked = [m for m in methods if m not in CROSS_OWNER_CALLS and m not in OWN_ONLY]
        outcomes = []
        for method, call in CROSS_OWNER_CALLS.items():
            for node in (edit.id, victim.root_id):
                outcomes.append(refused(f"{method} on another owner's session", call, store,
                                        victim.id, node, work))
        for method, call in CROSS_SESSION_CALLS.items():
            outcomes.append(refused(f"{method} with another session's node", call, store, own,
                                    edit.id))
        bad_ids = []
        for session_id in BAD_SESSION_IDS:
            for method, call in CROSS_OWNER_CALLS.items():
                bad_ids.append(refused(f"{method} on {session_id[:30]!r}", call, store,
                                       session_id, edit.id, work))
        listed = any(s.id == victim.id for s in store.list_sessions(INTRUDER))
        after = (store.history(OWNER, victim.id), store.messages(OWNER, victim.id))
        changed = after != before or (work / "stolen.zip").exists()
        every = outcomes + bad_ids
        crossed = every.count("went through") + listed + changed
        store.close()
        figure(f"isolation, {name}, public store methods", len(methods))
        figure(f"isolation, {name}, methods without a check",
               ", ".join(unchecked) or "none", "none")
        figure(f"isolation, {name}, calls that crossed owners or sessions", crossed, "0")
        figure(f"isolation, {name}, calls refused with one sentence",
               f"{every.count('refused')} of {len(every)} (of which {len(bad_ids)} with an id "
               "that is a path or SQL)", "all")
        figure(f"isolation, {name}, calls that failed with a traceback or an unclear message",
               every.count("failed"), "0")


def refused(what: str, call: Callable[..., object], *arguments: object) -> str:
    """How `call(*arguments)`, which must not go through, ended: "refused" (with one
    sentence), "went through", or "failed" (otherwise)."""
    from memory import Forbidden, NotFound

    try:
        call(*arguments)
    except (Forbidden, NotFound) as error:
        if one_sentence(str(error)):
            return "refused"
        note(f"{what}: refused with {str(error)[:200]!r}")
        return "failed"
    except Exception as error:
        note(f"{what}: {type(error).__name__}: {str(error)[:200]}")
        return "failed"
    note(f"{what}: it went through")
    return "went through"


# --- 6. a full or read-only disk --------------------------------------------------------


def disk_part(size: Size, work: Path) -> None:
    folder = work / "disk"
    folder.mkdir()
    if mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)):
        try:
            figure("full disk, the data folder", "a 1 MiB tmpfs, grown by 256 KiB after "
                   "each time it filled")
            full_disk(size, folder, grow=lambda mib: mount("-o", f"remount,size={mib}k",
                                                          str(folder)))
            figure("read-only disk, the data folder", "a folder on the same tmpfs (grown to "
                   "8 MiB), seen through a read-only bind mount")
            mount("-o", "remount,size=8m", str(folder))
            (folder / "read-only").mkdir()
            read_only_disk(folder / "read-only", bind_read_only)
        finally:
            mount_undo(folder)
    else:
        # Without mount privileges: the same checks in a child process, whose files cannot
        # grow past a limit (a full disk), and as another user on a folder not theirs
        # (read-only: root ignores file permissions, so the child gives root up).
        figure("full disk, the data folder", "a child process limited by RLIMIT_FSIZE "
               "(no tmpfs: mount failed)")
        in_child(lambda: full_disk(size, folder / "full", grow=None), file_limit=256 * 1024)
        figure("read-only disk, the data folder", "a folder made read-only, in a child "
               "process that is not root (no tmpfs: mount failed)")
        # a folder of its own in the temporary folder, which the user "nobody" can reach
        read_only = Path(tempfile.mkdtemp(prefix="pixchat-read-only-"))
        nobody = 65534 if os.geteuid() == 0 else None
        if nobody is not None:
            os.chown(read_only, nobody, nobody)
        try:
            in_child(lambda: read_only_disk(read_only, chmod_read_only), user=nobody)
        finally:
            shutil.rmtree(read_only)


def mount(*arguments: str) -> bool:
    return subprocess.run(["mount", *arguments], capture_output=True).returncode == 0


def mount_undo(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def full_disk(size: Size, folder: Path, grow: Callable[[int], bool] | None) -> None:
    rng = random.Random(3)
    url = f"sqlite:///{folder / 'pixchat.db'}"
    store = SessionStore(url, folder)
    session = store.create_session(OWNER, small_png(rng))
    committed: set[int] = set()
    sentences: list[str] = []
    tracebacks = problems = 0
    kib = 1024
    for _ in range(size.disk_rounds):
        while True:
            side = rng.choice((16, 48, 96, 160))
            png = encode(noise((side, side), rng.randrange(9999)), "PNG")
            try:
                node = store.commit_edit(OWNER, session.id, session.root_id, png,
                                         chat_text="x" * rng.randrange(1, 20_000))
                committed.add(node.id)
            except StoreError as error:
                sentences.append(str(error))
                break
            except Exception:
                tracebacks += 1
                note(traceback.format_exc())
                break
        problems += len(check_after_failure(url, folder, session.id, committed))
        if grow is None:
            break
        kib += 256
        grow(kib)
    store.close()
    unclear = [s for s in sentences if not one_sentence(s)]
    for sentence in sorted(set(sentences)):
        note(f"full disk: {sentence}")
    figure("full disk, commits that failed, with one sentence",
           f"{len(sentences) - len(unclear)} of {len(sentences) + tracebacks}", "all")
    figure("full disk, tracebacks", tracebacks, "0")
    figure("full disk, problems in the database after a failed commit (integrity, lost "
           "nodes, unreadable images)", problems, "0")
    figure("full disk, commits stored in all", len(committed))


def check_after_failure(url: str, folder: Path, session_id: str,
                        committed: set[int]) -> list[str]:
    """What is wrong after a failed write: SQLite's own integrity check, the tree, every
    committed node, and images nothing references (a fresh store, as after a restart)."""
    problems = []
    connection = sqlite3.connect(f"file:{folder / 'pixchat.db'}?mode=ro", uri=True)
    if connection.execute("PRAGMA integrity_check").fetchone() != ("ok",):
        problems.append("SQLite's integrity check failed")
    connection.close()
    try:
        store = SessionStore(url, folder)
    except StoreError as error:
        return [f"the store did not open: {error}"]
    history, tree = tree_problems(store, OWNER, session_id)
    problems += tree
    present = {node.id for node in history.nodes}
    if committed - present:
        problems.append(f"committed nodes lost: {committed - present}")
    store.close()
    for problem in problems:
        note(f"after a failed write: {problem}")
    return problems


def read_only_disk(
    folder: Path, read_only: Callable[[Path], contextlib.AbstractContextManager[Path]]
) -> None:
    """A session stored in `folder`, then every kind of write tried on `read_only(folder)`,
    a read-only view of it; afterwards the session must be as it was."""
    rng = random.Random(4)
    url = f"sqlite:///{folder / 'pixchat.db'}"
    store = SessionStore(url, folder)
    session = store.create_session(OWNER, small_png(rng))
    kept = store.commit_edit(OWNER, session.id, session.root_id, small_png(rng)).id
    store.close()
    outcomes: list[str] = []
    tracebacks = 0
    with read_only(folder) as view:
        view_url = f"sqlite:///{view / 'pixchat.db'}"
        for attempt in (
            lambda s: s.commit_edit(OWNER, session.id, kept, small_png(rng)),
            lambda s: s.create_session(OWNER, small_png(rng)),
            lambda s: s.add_message(OWNER, session.id, "user", "hello"),
            lambda s: s.undo(OWNER, session.id),
            lambda s: s.rename(OWNER, session.id, "renamed"),
            lambda s: s.collect_garbage(),
        ):
            try:
                attempt(SessionStore(view_url, view))
                outcomes.append("it went through")
            except StoreError as error:
                outcomes.append(str(error))
            except Exception:
                tracebacks += 1
                note(traceback.format_exc())
    problems = check_after_failure(url, folder, session.id, {kept})
    for outcome in outcomes:
        note(f"read-only disk: {outcome}")
    clear = sum(one_sentence(outcome) for outcome in outcomes)
    figure("read-only disk, writes refused with one sentence",
           f"{clear} of {len(outcomes) + tracebacks}", "all")
    figure("read-only disk, tracebacks", tracebacks, "0")
    figure("read-only disk, problems in the database afterwards", len(problems), "0")


def in_child(work: Callable[[], None], file_limit: int | None = None,
             user: int | None = None) -> None:
    """Run `work` in a forked child: one whose files cannot grow past `file_limit` bytes (a
    full disk), or that runs as `user` (root ignores permissions)."""
    import alembic.command  # noqa: F401  (Python's own files may be out of `user`'s reach)
    import alembic.config  # noqa: F401

    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            if file_limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails instead
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
            if user is not None:
                os.setgid(user)
                os.setuid(user)
            work()
            sys.stdout.flush()
            os._exit(0)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if status:
        figure("disk, the child process", f"failed (status {status})", "0")


@contextlib.contextmanager
def bind_read_only(folder: Path) -> Iterator[Path]:
    """`folder` seen through a read-only bind mount (root ignores permissions)."""
    view = folder.with_name(folder.name + "-view")
    view.mkdir()
    if not (mount("--bind", str(folder), str(view))
            and mount("-o", "remount,bind,ro", str(view))):
        raise RuntimeError(f"could not bind-mount {folder} read-only")
    try:
        yield view
    finally:
        mount_undo(view)


@contextlib.contextmanager
def chmod_read_only(folder: Path) -> Iterator[Path]:
    """`folder` and everything in it made read-only, for a process that is not root."""
    paths = [folder, *folder.rglob("*")]
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield folder
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)


# --- main -------------------------------------------------------------------------------

PARTS = ("kills", "contention", "images", "chat", "isolation", "disk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="ci")
    parser.add_argument("--part", action="append", choices=PARTS,
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--pg", default=os.environ.get("PIXCHAT_TEST_PG_URL"),
                        help="a PostgreSQL server's SQLAlchemy URL (default: "
                        "$PIXCHAT_TEST_PG_URL); without one the PostgreSQL parts are skipped")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"),
                        help="only this database (default: both)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = SIZES[args.size]
    rng = random.Random(args.seed)
    np.random.seed(args.seed)
    figure("size", f"{args.size} ({size.kills} kills; chat {size.sqlite_chat[0]}×"
           f"{size.sqlite_chat[1]} on SQLite, {size.postgres_chat[0]}×{size.postgres_chat[1]}"
           " on PostgreSQL)")
    elapsed = stopwatch()
    with tempfile.TemporaryDirectory(prefix="pixchat-reliability-") as folder:
        work = Path(folder)
        for part in args.part or PARTS:
            (work / part).mkdir(exist_ok=True)
            if part == "kills":
                kill_part(size, work / part, args.pg, rng, args.backend)
            elif part == "contention":
                contention_part(size, work / part, args.pg, args.backend)
            elif part == "images":
                images_part(work / part)
            elif part == "chat":
                chat_part(work / part)
            elif part == "isolation":
                isolation_part(work / part, args.pg, args.backend)
            else:
                disk_part(size, work / part)
    figure("seconds in all", elapsed())


if __name__ == "__main__":
    main()
