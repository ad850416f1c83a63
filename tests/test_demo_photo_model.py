"""The shipped photo model (editor/demo/photo_model): small, honest about its repertoire, and
its edits of photos it never saw, brought to their own size, beat doing nothing.

Every number is a mean over both held-out photos (scikit-learn's china.jpg and flower.jpg,
640x427) and two seeds, composed to full size as the app does; the real model runs on CPU.
"""

import copy
import json
from dataclasses import replace

import numpy as np
import pytest

from agent.setup import open_editor
from editor import EditRequest, load_editor
from editor.composite import compose
from editor.demo import photos, quality
from editor.models import DEMO_PHOTO_MODEL_DIR

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def editor():
    return load_editor("demo-photo")


def full_size_scores(editor, kind: str, pairs) -> dict[tuple[float, float], list[quality.Score]]:
    """Scores at full size of one edit kind on both held-out photos, at each (s_T, s_I)."""
    edit = photos.make_edit(kind, np.random.default_rng(0), strength="normal")
    scores: dict[tuple[float, float], list[quality.Score]] = {pair: [] for pair in pairs}
    for name in photos.HELD_OUT_PHOTOS:
        photo = photos.held_out_photo(name)
        truth = edit.apply(np.asarray(photo))
        for seed in SEEDS:
            for text_scale, image_scale in pairs:
                request = EditRequest(photo, edit.instruction, text_scale=text_scale,
                                      image_scale=image_scale, seed=seed)
                full = compose(photo, editor.edit(request)).image
                scores[(text_scale, image_scale)].append(
                    quality.compare(kind, np.asarray(photo), truth, np.asarray(full)))
    return scores


def mean(scores: list[quality.Score], field: str) -> float:
    return float(np.mean([getattr(score, field) for score in scores]))


def test_the_folder_is_small_and_declares_what_it_can_do():
    size = sum(path.stat().st_size for path in DEMO_PHOTO_MODEL_DIR.rglob("*") if path.is_file())
    settings = json.loads((DEMO_PHOTO_MODEL_DIR / "pixchat.json").read_text())
    assert size < 20_000_000
    assert settings["size"] == photos.SIZE
    assert settings["render_unedited"] and settings["colour_only"]  # see the model card
    repertoire = settings["repertoire"]
    assert repertoire["summary"].startswith("changes the colours and light of a photo")
    assert set(repertoire["kinds"]) <= set(photos.KINDS) and "darker" in repertoire["kinds"]
    card = (DEMO_PHOTO_MODEL_DIR / "README.md").read_text()
    assert "python -m editor.demo.train --world photos" in card and "doing nothing" in card


@pytest.mark.parametrize("kind", ["darker", "night", "invert"])
def test_its_edits_of_unseen_photos_at_their_own_size_beat_doing_nothing(editor, kind):
    recommended = (editor.defaults.text_scale, editor.defaults.image_scale)
    [scores] = full_size_scores(editor, kind, [recommended]).values()
    assert mean(scores, "to_truth") < 0.5 * mean(scores, "nothing_to_truth")


def test_raising_s_t_follows_the_instruction_and_raising_s_i_keeps_the_photo(editor):
    text_scale, image_scale = editor.defaults.text_scale, editor.defaults.image_scale
    scores = full_size_scores(editor, "night", [(1.0, image_scale), (text_scale, image_scale),
                                                (text_scale, 2.5)])
    assert mean(scores[(text_scale, image_scale)], "to_truth") < \
        mean(scores[(1.0, image_scale)], "to_truth")
    assert mean(scores[(text_scale, 2.5)], "to_input") < \
        mean(scores[(text_scale, image_scale)], "to_input")


@pytest.mark.parametrize("kind", ["warmer", "cooler", "more saturated", "less saturated"])
def test_composing_from_its_own_no_edit_rendering_brings_subtle_edits_closer(editor, kind):
    recommended = (editor.defaults.text_scale, editor.defaults.image_scale)
    round_trip = copy.copy(editor)  # the same weights, composed from the VAE's round trip
    round_trip.defaults = replace(editor.defaults, render_unedited=False)
    [rendered] = full_size_scores(editor, kind, [recommended]).values()
    [plain] = full_size_scores(round_trip, kind, [recommended]).values()
    assert editor.defaults.render_unedited
    assert mean(rendered, "to_truth") < 0.8 * mean(plain, "to_truth")


def test_the_embedded_default_edits_a_photo_with_the_photo_model():
    result = open_editor("demo", warn=print).edit(
        EditRequest(photos.sample_photo(), "make it black and white", seed=0))
    assert result.model_id == "demo-photo" and max(result.width, result.height) == photos.SIZE
