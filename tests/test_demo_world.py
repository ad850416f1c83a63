"""The demo world: deterministic scenes and edits whose "after" images are exact."""

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from editor.demo import world
from editor.demo.tokenizer import build_word_tokenizer


def edits_of_kind(kind: str, count: int = 12) -> list[world.Edit]:
    return world.training_edits(7, count, [kind])


def changed_pixels(edit: world.Edit) -> np.ndarray:
    before, after = world.render(edit.before), world.render(edit.after)
    return np.any(before != after, axis=-1)


def changes_exactly(edit: world.Edit, cover: np.ndarray) -> bool:
    """True when the edit changed every fully covered pixel and nothing uncovered."""
    changed = changed_pixels(edit)
    return bool(np.all(changed[cover == 1]) and not np.any(changed[cover == 0]))


def test_the_same_seed_gives_the_same_edits_and_pixels():
    first, again = world.training_edits(3, 20), world.training_edits(3, 20)
    other = world.training_edits(4, 20)

    assert first == again
    assert all(np.array_equal(world.render(a.after), world.render(b.after))
               for a, b in zip(first, again, strict=True))
    assert [e.instruction for e in first] != [e.instruction for e in other]


def test_scenes_hold_one_to_three_separate_shapes_of_distinct_kinds_inside_the_image():
    scenes = [world.random_scene(np.random.default_rng(seed)) for seed in range(60)]

    assert {len(scene.shapes) for scene in scenes} == {1, 2, 3}
    for scene in scenes:
        kinds = [shape.kind for shape in scene.shapes]
        covers = [world.coverage(shape) for shape in scene.shapes]
        assert len(set(kinds)) == len(kinds)
        assert all(cover.sum() > 20 for cover in covers)  # visible, not clipped away
        assert all(np.all(cover[[0, -1], :] == 0) and np.all(cover[:, [0, -1]] == 0)
                   for cover in covers)  # never touches the border
        for i, a in enumerate(covers):
            assert all(not np.any((a > 0) & (b > 0)) for b in covers[i + 1 :])


def test_a_recolour_changes_exactly_the_named_shapes_pixels_to_the_asked_colour():
    for edit in edits_of_kind("recolour"):
        shape = edit.target
        cover = world.coverage(shape)
        after = world.render(edit.after).astype(int)

        assert shape.kind in edit.instruction and edit.colour in edit.instruction
        assert changes_exactly(edit, cover)
        if not edit.before.lighting:
            assert np.all(after[cover == 1] == world.PALETTE[edit.colour])


def test_a_removed_shape_becomes_background_and_nothing_else_changes():
    for edit in edits_of_kind("remove", 40):  # some of them darkened or brightened before
        cover = world.coverage(edit.target)
        after = world.render(edit.after)

        background = world.render(replace(edit.after, shapes=()))

        assert edit.target not in edit.after.shapes
        assert changes_exactly(edit, cover)
        assert np.array_equal(after[cover > 0], background[cover > 0])


def test_a_background_change_keeps_every_shape_interior():
    for edit in edits_of_kind("background"):
        interiors = sum(world.coverage(shape) == 1 for shape in edit.before.shapes)
        changed = changed_pixels(edit)

        assert edit.colour in edit.instruction
        assert not np.any(changed & (interiors > 0))
        assert changed.mean() > 0.5


@pytest.mark.parametrize("kind, darker", [("darken", True), ("brighten", False)])
def test_darken_and_brighten_move_every_pixel_the_same_way(kind, darker):
    for edit in edits_of_kind(kind):
        before = world.render(edit.before).astype(int)
        after = world.render(edit.after).astype(int)

        assert np.all(after <= before) if darker else np.all(after >= before)
        assert abs(after.mean() - before.mean()) > 5


def test_a_move_shifts_the_shape_by_the_fixed_step_in_the_named_direction():
    for edit in edits_of_kind("move"):
        moved = next(shape for shape in edit.after.shapes if shape.kind == edit.target.kind)
        dx, dy = moved.x - edit.target.x, moved.y - edit.target.y
        direction = next(name for name in world.DIRECTIONS if name in edit.instruction)

        assert (dx, dy) == tuple(world.MOVE_STEP * d for d in world.DIRECTIONS[direction])
        assert changes_exactly(edit, np.abs(world.coverage(edit.target) - world.coverage(moved)))


def test_every_edit_kind_has_several_phrasings_in_use():
    instructions = {kind: {e.instruction.split()[0] for e in edits_of_kind(kind, 40)}
                    for kind in world.EDIT_KINDS}

    assert all(len(starts) >= 3 for starts in instructions.values()), instructions


def test_the_held_out_split_is_fixed_balanced_and_unlike_training():
    held_out = world.held_out_edits(60)
    training = {e.instruction + repr(e.before) for e in world.training_edits(0, 500)}

    assert held_out == world.held_out_edits(60)
    assert held_out[:6] == world.held_out_edits(6)
    assert [e.kind for e in held_out] == list(world.EDIT_KINDS) * 10
    assert not any(e.instruction + repr(e.before) in training for e in held_out)


def test_an_episode_chains_three_to_five_edits_each_starting_from_the_last_truth():
    for seed in range(10):
        turns = world.episode(seed)

        assert 3 <= len(turns) <= 5
        assert all(turn.before == previous.after for previous, turn in pairwise(turns))
        assert turns == world.episode(seed)


def test_every_instruction_is_whole_words_of_the_vocabulary(tmp_path):
    tokenizer = build_word_tokenizer(world.vocabulary(), tmp_path)

    for edit in world.training_edits(1, 200):
        tokens = tokenizer.tokenize(edit.instruction)
        assert len(tokens) == len(edit.instruction.split())
        assert tokenizer.unk_token not in tokens
