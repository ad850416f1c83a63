"""The photo world: exact colour edits of real photos at any size, intensity words that
mean what they say, and held-out photos that never enter the training stream."""

import numpy as np
import pytest
from PIL import Image

from editor.demo import photos
from editor.demo.tokenizer import build_word_tokenizer


def test_an_edit_is_exact_at_any_size():
    """The truth of an edit at full size, shrunk, equals the truth of the shrunk photo up to
    rounding: the same per-pixel transform, so a small working size has a full-size truth."""
    photo = photos.held_out_photo("china.jpg")
    small = photo.resize((64, 43), Image.Resampling.BOX)
    for kind in ("warmer", "sepia", "night", "brighter"):
        edit = photos.make_edit(kind, np.random.default_rng(0), strength="normal")
        full_truth = Image.fromarray(edit.apply(np.asarray(photo)))
        shrunk_truth = np.asarray(full_truth.resize(small.size, Image.Resampling.BOX), float)
        truth_of_small = edit.apply(np.asarray(small)).astype(float)
        # clipping is not linear, so pixels at the limits differ a little after shrinking
        assert np.abs(shrunk_truth - truth_of_small).mean() < 1.0, kind


def test_known_edits_do_what_their_names_say():
    pixels = np.array([[[200, 100, 50], [20, 40, 200]]], dtype=np.uint8)
    grey = photos.apply_transform(photos.transform("black and white"), pixels)
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    inverted = photos.apply_transform(photos.transform("invert"), pixels)
    assert (inverted.astype(int) + pixels == 255).all()
    warmer = photos.apply_transform(photos.transform("warmer"), pixels).astype(int)
    assert (warmer[..., 0] >= pixels[..., 0]).all() and (warmer[..., 2] < pixels[..., 2]).all()
    night = photos.apply_transform(photos.transform("night"), pixels).astype(int)
    assert night.sum() < pixels.astype(int).sum() / 2 and (night[..., 2] > night[..., 0]).all()


@pytest.mark.parametrize("kind", [name for name, kind in photos.KINDS.items() if kind.graded])
def test_intensity_words_order_the_change(kind):
    """'slightly' changes a photo less than the plain word, 'much' more."""
    photo = np.asarray(photos.held_out_photo("flower.jpg").resize((80, 53)))
    colour = "blue" if kind == "tint" else None
    change = [np.abs(photos.apply_transform(photos.transform(kind, strength, colour), photo)
                     .astype(int) - photo).mean() for strength in ("slight", "normal", "strong")]
    assert 0 < change[0] < change[1] < change[2]


def test_instructions_carry_their_intensity_word():
    rng = np.random.default_rng(1)
    for strength, words in photos.BEFORE_WORDS.items():
        if strength == "normal":
            continue
        edit = photos.make_edit("warmer", rng, strength=strength)
        said = f" {edit.instruction} "
        assert any(f" {word} " in said for word in words + photos.AFTER_WORDS[strength])


def test_every_instruction_is_whole_words_of_the_vocabulary(tmp_path):
    tokenizer = build_word_tokenizer(photos.vocabulary(), tmp_path)
    for example in photos.training_examples(3, 200):
        ids = tokenizer(example.instruction).input_ids[1:-1]
        assert len(ids) == len(example.instruction.split()), example.instruction
        assert len(ids) + 2 <= tokenizer.model_max_length


def test_the_training_stream_is_repeatable_and_varied():
    first, again = photos.training_examples([0, 2, 7], 16), photos.training_examples([0, 2, 7], 16)
    assert all((a.before == b.before).all() and a.instruction == b.instruction
               for a, b in zip(first, again, strict=True))
    assert len({example.kind for example in photos.training_examples(5, 200)}) == len(photos.KINDS)


def test_random_colours_reach_the_whole_colour_cube():
    """The autoencoder's random colours fill nearly all of the RGB cube, where as many
    training photos fill under a third of it, and a seed gives the same pictures."""
    def share_of_cube(pictures: np.ndarray) -> float:  # of its 8 x 8 x 8 bins
        return len(np.unique(pictures.reshape(-1, 3) // 32, axis=0)) / 512

    pictures = photos.random_colours([0, 1, 5], 32)
    assert pictures.shape == (32, photos.SIZE, photos.SIZE, 3)
    assert (pictures == photos.random_colours([0, 1, 5], 32)).all()
    training = np.stack([example.before for example in photos.training_examples(5, 32)])
    assert share_of_cube(training) < 0.3 and share_of_cube(pictures) > 0.9
    smooth = np.abs(np.diff(pictures.astype(int), axis=2)).mean(axis=(1, 2, 3))
    assert smooth.min() < 20 and smooth.max() > 60  # smooth fields and noisy ones


def test_held_out_photos_never_enter_the_training_stream():
    """No training photo is one of scikit-learn's sample photos, at any size or flip."""
    held_out = [np.asarray(photos.held_out_photo(name).resize((32, 32))).astype(float)
                for name in photos.HELD_OUT_PHOTOS]
    assert not set(photos.HELD_OUT_PHOTOS) & set(photos.COLOUR_PHOTOS + photos.GREY_PHOTOS)
    for source in photos.training_photos():
        small = np.asarray(Image.fromarray(source).resize((32, 32))).astype(float)
        for photo in held_out:
            assert min(np.abs(small - photo).mean(), np.abs(small[:, ::-1] - photo).mean()) > 20


def test_held_out_examples_are_the_held_out_photos():
    examples = photos.held_out_examples(4)
    china = np.asarray(photos.held_out_photo("china.jpg").resize(
        examples[0].before.shape[1::-1], Image.Resampling.BOX))
    assert (examples[0].before == china).all()
    assert max(examples[0].before.shape[:2]) <= photos.SIZE


def test_an_unknown_held_out_photo_is_one_sentence():
    with pytest.raises(ValueError, match="Held-out photos are china.jpg, flower.jpg"):
        photos.held_out_photo("astronaut.png")
