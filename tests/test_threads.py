"""torch's CPU threads are sized for two edits at once (benchmarks/threads_bench.py times it)."""

import pytest
import torch

from editor import EditorError, load_editor
from editor.threads import threads_per_edit


@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 1), (4, 2), (16, 8)])
def test_two_edits_at_once_share_the_cores(cores, threads):
    assert threads_per_edit("", cores) == threads


def test_pixchat_threads_sets_the_number():
    assert threads_per_edit("3", cores=2) == 3


@pytest.mark.parametrize("setting", ["0", "-1", "two", "1.5"])
def test_a_bad_pixchat_threads_is_one_sentence(setting):
    with pytest.raises(EditorError, match=f"PIXCHAT_THREADS must be .* not '{setting}'"):
        threads_per_edit(setting)


def test_loading_an_editor_sets_torchs_threads(tiny_model, monkeypatch):
    monkeypatch.setenv("PIXCHAT_THREADS", "2")
    try:
        load_editor(str(tiny_model), device="cpu")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)  # conftest's setting for the other tests
