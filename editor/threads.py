"""How many CPU threads torch uses for an edit.

torch gives every process a thread per core. Two edits at once (two `pixchat` commands, or
two people in one app process, where each Streamlit session runs in a thread) then run
twice as many threads as there are cores, and each edit takes 4–6 times as long as alone
instead of about twice. pixchat sizes torch for `EDITS_AT_ONCE` edits at once: its share of
the cores each, at least one thread. `PIXCHAT_THREADS` sets the number instead (e.g. all the
cores on a machine that only ever runs one edit). `benchmarks/threads_bench.py` measures it.
"""

from __future__ import annotations

import os

from .errors import EditorError

EDITS_AT_ONCE = 2


def available_cores() -> int:
    """The cores this process may run on (a container's share, not the whole machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_edit(setting: str | None = None, cores: int | None = None) -> int:
    """`setting` (PIXCHAT_THREADS) when given, else the cores shared by `EDITS_AT_ONCE` edits."""
    setting = os.environ.get("PIXCHAT_THREADS") if setting is None else setting
    if setting:
        if not setting.strip().isdigit() or int(setting) < 1:
            raise EditorError(f"PIXCHAT_THREADS must be a whole number of threads, 1 or more, "
                              f"not {setting!r}.")
        return int(setting)
    return max(1, (cores or available_cores()) // EDITS_AT_ONCE)


def use_threads_per_edit() -> int:
    """Set torch's CPU threads to `threads_per_edit()`, for this process and every thread in it."""
    import torch

    threads = threads_per_edit()
    torch.set_num_threads(threads)
    return threads
