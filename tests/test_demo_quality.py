"""The demo benchmark's judge: scores against the world's exact ground truth."""

import numpy as np

from editor.demo import quality, world


def local_edits() -> list[world.Edit]:
    return world.training_edits(5, 10, ["recolour", "remove"])


def test_the_exact_after_image_scores_perfectly():
    for edit in local_edits():
        score = quality.score(edit, world.render(edit.after))

        assert score.to_truth == 0
        assert score.landed is True
        assert score.outside_change == 0
        assert score.to_input == score.nothing_to_truth > 0


def test_doing_nothing_neither_lands_nor_beats_itself():
    for edit in local_edits():
        score = quality.score(edit, world.render(edit.before))

        assert score.landed is False
        assert score.to_input == 0
        assert score.to_truth == score.nothing_to_truth


def test_a_change_outside_the_shape_is_reported_even_when_the_shape_is_right():
    edit = local_edits()[0]
    output = world.render(edit.after).copy()
    output[world.coverage(edit.target) == 0] = 0  # blacken everything around the shape

    score = quality.score(edit, output)

    assert score.landed is True
    assert score.outside_change > 0.2


def test_means_are_taken_per_kind_and_skip_missing_values():
    edits = world.held_out_edits(10, ["recolour", "darken"])
    scores = [quality.score(edit, world.render(edit.after)) for edit in edits]

    assert quality.mean_by_kind(scores, "to_truth") == {"recolour": 0.0, "darken": 0.0}
    assert quality.mean_by_kind(scores, "landed") == {"recolour": 1.0}
    assert np.isclose(quality.mean_by_kind(scores, "nothing_to_truth")["darken"],
                      np.mean([s.nothing_to_truth for s in scores if s.kind == "darken"]))
