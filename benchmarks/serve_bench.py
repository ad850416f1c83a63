"""The editor service under load: simulated chat sessions against 1 and 2 CPU replicas.

A local Ray cluster on loopback (2 CPUs) serves the embedded demo model (`editor/serve.py`),
each replica with one torch thread. N sessions (threads of this process, like the people of
one app replica) each run chat turns back to back through the whole turn graph (rules,
RemoteEditor, compose, drift check, store) for a fixed window, on scenes of the demo world,
with instructions that edit once per turn. Every cell is measured in the same run:

- edits per second, p50 and p95 turn latency, for N = 1, 4, 16 on 1 and 2 replicas;
- the gain from batching: 16 sessions with `max_batch_size` 8 against 1;
- a replica killed mid-edit `--kills` times (Ray restarts it): how many turns were lost.
  A turn is lost if it neither finished nor failed with one sentence (`EditorError`), or if
  it left a node behind when it failed.

Targets: 4 sessions on 2 replicas >= 1.6x one session's throughput; batching >= 1.3x at 16
sessions; 0 lost turns. The load average before and after is printed with the tables.

Usage: python benchmarks/serve_bench.py [--seconds 15] [--kills 20]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make `agent`, `editor`, `memory` importable
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# Each turn edits the session's original scene (the shapes model's outputs are no longer flat
# scenes, and would go to the photo model), once: no drift retry for these scopes.
INSTRUCTIONS = tuple(f"go back to the original and {edit}" for edit in (
    "make the background yellow", "make the background blue", "darken the image",
    "brighten the image"))
SESSIONS = (1, 4, 16)
TARGETS = {"scale": 1.6, "batching": 1.3}
BATCH_ON, BATCH_OFF = 8, 1


@dataclass
class Tally:
    """What the sessions of one cell did."""

    latencies: list[float] = field(default_factory=list)  # finished turns in the window
    failed: list[str] = field(default_factory=list)  # ended with one sentence, nothing stored
    lost: list[str] = field(default_factory=list)  # anything else, described
    in_flight: int = 0  # turns now running
    retries: int = 0  # edits the RemoteEditor sent again after a lost connection
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def deploy(replicas: int, max_batch_size: int) -> None:
    from ray import serve

    from editor.serve import EditorDeployment

    app = EditorDeployment.options(num_replicas=replicas).bind(
        model="demo", threads=1, max_batch_size=max_batch_size)
    serve.run(app, name="editor", route_prefix="/editor")


def run_sessions(url: str, store, sessions: int, seconds: float, tally: Tally,
                 stop: threading.Event | None = None) -> float:
    """`sessions` chat sessions turning for `seconds` (or until `stop`); the window's length."""
    from agent.errors import USER_ERRORS
    from agent.interpret import load_interpreter
    from agent.turn import Agent, run_turn
    from editor.demo import world
    from editor.images import to_png_bytes
    from editor.remote import RemoteEditor

    editor = RemoteEditor(url)
    interpreter = load_interpreter("rules", editor.defaults)
    rng = np.random.default_rng(sessions)
    scenes = [world.render_image(world.random_scene(rng)) for _ in range(sessions)]
    window: dict[str, float] = {}

    def open_window() -> None:  # run once, when every session is ready
        window.update(begin=time.perf_counter(), end=time.perf_counter() + seconds)

    start_together = threading.Barrier(sessions + 1, action=open_window)

    def session(index: int) -> None:
        owner = f"person{index}"
        agent = Agent(store, editor, interpreter, owner=owner)
        session_id = store.create_session(owner, to_png_bytes(scenes[index]), "bench").id
        run_turn(agent, session_id, INSTRUCTIONS[0])  # warm: the replica has the image
        start_together.wait()
        turn = 0
        while time.perf_counter() < window["end"] and not (stop and stop.is_set()):
            turn += 1
            nodes = len(store.history(owner, session_id).nodes)
            began = time.perf_counter()
            with tally.lock:
                tally.in_flight += 1
            try:
                result = run_turn(agent, session_id, INSTRUCTIONS[turn % len(INSTRUCTIONS)])
                ended = time.perf_counter()
                with tally.lock:
                    if not result.changed:
                        tally.lost.append(f"a turn made no edit: {result.reply[:80]}")
                    elif ended <= window["end"]:
                        tally.latencies.append(ended - began)
            except USER_ERRORS as error:
                after = len(store.history(owner, session_id).nodes)
                with tally.lock:
                    tally.failed.append(str(error))
                    if after != nodes or "\n" in str(error):
                        tally.lost.append(f"failed leaving {after - nodes} nodes: {error}")
            except Exception as error:  # noqa: BLE001 - anything else is a lost turn
                with tally.lock:
                    tally.lost.append(f"{type(error).__name__}: {error}")
            finally:
                with tally.lock:
                    tally.in_flight -= 1

    threads = [threading.Thread(target=session, args=(index,)) for index in range(sessions)]
    for thread in threads:
        thread.start()
    start_together.wait()
    for thread in threads:
        thread.join()
    tally.retries = editor.retries
    return min(time.perf_counter(), window["end"]) - window["begin"]


def measure(url: str, store, sessions: int, seconds: float) -> dict:
    tally = Tally()
    elapsed = run_sessions(url, store, sessions, seconds, tally)
    for reason in (tally.lost + tally.failed)[:3]:
        print(f"    lost: {reason}", file=sys.stderr)
    latencies = sorted(tally.latencies)
    return {
        "edits_per_s": len(latencies) / elapsed,
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        if latencies else float("nan"),
        "turns": len(latencies),
        "lost": len(tally.lost) + len(tally.failed),
    }


def kill_replicas(url: str, store, kills: int, sessions: int, limit_s: float) -> dict:
    """Kill a replica `kills` times while `sessions` sessions edit; each kill waits for an edit
    in flight and for Serve to have replaced the replica killed before."""
    import ray
    from ray import serve

    tally = Tally()
    stop = threading.Event()
    runner = threading.Thread(target=run_sessions,
                              args=(url, store, sessions, limit_s, tally, stop))
    runner.start()
    def replicas() -> list[str]:
        return [actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)
                if actor["name"].startswith("SERVE_REPLICA::editor#")]

    def running() -> int:
        status = serve.status().applications["editor"].deployments["EditorDeployment"]
        return status.replica_states.get("RUNNING", 0)

    done = 0
    deadline = time.perf_counter() + limit_s
    while done < kills and time.perf_counter() < deadline:
        # One incident at a time: the replica killed last has been replaced (a killed actor
        # leaves the list at once), and both replicas run.
        if len(replicas()) < 2 or running() < 2 or tally.in_flight == 0:
            time.sleep(0.2)
            continue
        time.sleep(random.uniform(0.05, 0.3))  # somewhere inside an edit
        killed = random.choice(replicas())
        ray.kill(ray.get_actor(killed, namespace="serve"), no_restart=True)
        done += 1
    stop.set()
    runner.join()
    return {"kills": done, "finished": len(tally.latencies), "retried": tally.retries,
            "failed": tally.failed, "lost": tally.lost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="window of each cell")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--kill-limit", type=float, default=900.0,
                        help="the most seconds the kill test may take")
    args = parser.parse_args()

    import ray
    from ray import serve

    from memory import SessionStore

    load_before = os.getloadavg()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}/editor"
    results: dict[tuple[int, str, int], dict] = {}
    try:
        with TemporaryDirectory() as folder:
            store = SessionStore(None, folder)
            for replicas in (1, 2):
                for batch, batch_size in (("on", BATCH_ON), ("off", BATCH_OFF)):
                    deploy(replicas, batch_size)
                    for sessions in SESSIONS if batch == "on" else (16,):
                        print(f"  {replicas} replica(s), batching {batch}, {sessions} "
                              "sessions", file=sys.stderr, flush=True)
                        results[replicas, batch, sessions] = measure(url, store, sessions,
                                                                     args.seconds)
            deploy(2, BATCH_ON)
            print(f"  killing a replica {args.kills} times", file=sys.stderr, flush=True)
            killed = kill_replicas(url, store, args.kills, 4, args.kill_limit)
            store.close()
    finally:
        serve.shutdown()
        ray.shutdown()
    load_after = os.getloadavg()

    print("| replicas | batching | sessions | turns | edits/s | p50 turn (s) | p95 turn (s) |"
          " lost |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (replicas, batch, sessions), cell in results.items():
        print(f"| {replicas} | {batch} | {sessions} | {cell['turns']} | "
              f"{cell['edits_per_s']:.2f} | {cell['p50']:.2f} | {cell['p95']:.2f} | "
              f"{cell['lost']} |")
    print()
    print("| comparison | ratio | target | met |")
    print("| --- | ---: | ---: | --- |")
    rows = [("4 sessions / 1 session, 2 replicas",
             results[2, "on", 4]["edits_per_s"] / results[2, "on", 1]["edits_per_s"], "scale")]
    rows += [(f"16 sessions, batching on / off, {replicas} replica(s)",
              results[replicas, "on", 16]["edits_per_s"]
              / results[replicas, "off", 16]["edits_per_s"], "batching") for replicas in (1, 2)]
    for name, ratio, target in rows:
        print(f"| {name} | {ratio:.2f} | >= {TARGETS[target]} | "
              f"{'yes' if ratio >= TARGETS[target] else 'NO'} |")
    print()
    print(f"Replica killed {killed['kills']} times mid-edit (4 sessions, 2 replicas): "
          f"{killed['finished']} turns finished, {killed['retried']} edits sent again, "
          f"{len(killed['failed'])} turns failed with one sentence, {len(killed['lost'])} lost "
          "(target 0).")
    for reason in killed["failed"][:3]:
        print(f"  failed: {reason}")
    for reason in killed["lost"][:5]:
        print(f"  lost: {reason}")
    print(f"Load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}.")


if __name__ == "__main__":
    main()
