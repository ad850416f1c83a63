"""Identity across turns: edit masks, full-size compositing, and masks a person gives.

A pixel no edit was meant to touch comes back exactly as it was, at the person's own size,
however many turns later.
"""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from agent.checks import has_acted, has_drifted, measure_drift
from agent.errors import AgentError
from agent.interpret import load_interpreter
from agent.turn import Agent, run_turn
from editor import EditorError, EditRequest, EditResult, load_editor
from editor.composite import compose
from editor.demo import photos, world
from editor.images import load_image, to_png_bytes
from editor.masks import fit_region
from editor.resolution import working_size
from memory import SessionStore

SCENE = world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),
                              world.Shape("square", "green", 22, 22, 6)))


def photo(width: int = 300, height: int = 200) -> Image.Image:
    """A textured picture: fine detail that a 32-px copy cannot hold."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(40, 216, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(0.7))


def working_copy(image: Image.Image, size=(48, 32)) -> Image.Image:
    return image.resize(size, Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(0.5))


def result_of(seen: Image.Image, edited: Image.Image, mask: Image.Image,
              colour_only: bool = False) -> EditResult:
    """An editor's result, as far as compositing reads it."""
    return EditResult(image=edited, seen=seen, mask=mask, model_id="test", revision=None,
                      scheduler="euler_ancestral", steps=1, seed=0, text_scale=1.0,
                      image_scale=1.0, width=seen.width, height=seen.height, device="cpu",
                      dtype="float32", colour_only=colour_only)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255


# --- compositing ----------------------------------------------------------------------------


def test_outside_the_mask_the_parent_is_kept_bit_for_bit():
    parent = photo()
    seen = working_copy(parent)
    edited = Image.fromarray(255 - np.asarray(seen))  # a drastic change, everywhere
    mask = Image.new("L", seen.size, 0)
    ImageDraw.Draw(mask).rectangle([5, 5, 20, 20], fill=255)
    composite = compose(parent, result_of(seen, edited, mask))
    assert composite.image.size == parent.size and composite.mask.size == parent.size
    kept = np.asarray(composite.mask) == 0
    assert 0.5 < kept.mean() < 0.95
    assert np.array_equal(np.asarray(composite.image)[kept], np.asarray(parent)[kept])
    inside = np.asarray(composite.mask) == 255
    negative = 1 - pixels(parent)  # the edit, at full size
    assert np.abs(pixels(composite.image) - negative)[inside].mean() < 0.02


def test_an_enlarged_mask_does_not_spill_past_the_working_pixels_it_covers():
    parent = photo(320, 320)
    seen = working_copy(parent, (32, 32))
    mask = Image.new("L", seen.size, 0)
    mask.paste(255, (8, 8, 16, 16))  # working pixels 8..15: full-size pixels 80..159
    composite = compose(parent, result_of(seen, Image.fromarray(255 - np.asarray(seen)), mask))
    outside = np.ones((320, 320), bool)
    outside[80:160, 80:160] = False
    assert np.array_equal(np.asarray(composite.image)[outside], np.asarray(parent)[outside])
    assert (np.asarray(composite.mask)[80:160, 80:160] > 0).all()


def test_a_tonal_edit_keeps_the_detail_of_the_full_size_picture():
    parent = photo()
    seen = working_copy(parent)
    darker = Image.fromarray((np.asarray(seen) * world.DARKEN_GAIN).round().astype(np.uint8))
    composite = compose(parent, result_of(seen, darker, Image.new("L", seen.size, 255)))
    truth = pixels(parent) * world.DARKEN_GAIN
    enlarged = pixels(darker.resize(parent.size, Image.Resampling.LANCZOS))
    composed_error = np.abs(pixels(composite.image) - truth).mean()
    assert composed_error < 0.01
    assert composed_error < np.abs(enlarged - truth).mean() / 4  # what resizing back gives


def test_an_edit_that_clips_to_black_and_white_clips_the_same_pixels_at_full_size():
    ramp = np.linspace(0, 1, 300)[None, :, None]  # dark to light, left to right
    parent = Image.fromarray((np.asarray(photo()) * 0.3 + ramp * 180).astype(np.uint8))
    seen = working_copy(parent)

    def strong_contrast(image: np.ndarray) -> np.ndarray:  # clips much of a photo
        return np.clip((image.astype(float) - 128) * 2.5 + 128, 0, 255).round()

    punchier = Image.fromarray(strong_contrast(np.asarray(seen)).astype(np.uint8))
    composite = compose(parent, result_of(seen, punchier, Image.new("L", seen.size, 255)))
    truth = strong_contrast(np.asarray(parent)) / 255
    assert ((truth == 0) | (truth == 1)).mean() > 0.2  # the test photo really clips
    assert np.abs(pixels(composite.image) - truth).mean() < 0.01  # 0.016 fitting clipped pixels


def test_every_photo_edit_made_at_working_size_reaches_the_truth_at_full_size():
    """Compositing alone: the exact edit of each photo kind, made on a 32-px copy, lands at
    the held-out photo's own size with at most a tenth of doing nothing's error."""
    parent = photos.held_out_photo("china.jpg")
    seen = parent.resize(working_size(parent.size, 32, 2), Image.Resampling.BOX)
    for kind in photos.KINDS:
        edit = photos.make_edit(kind, np.random.default_rng(0), "normal")
        edited = Image.fromarray(edit.apply(np.asarray(seen)))
        composite = compose(parent, result_of(seen, edited, Image.new("L", seen.size, 255)))
        truth = edit.apply(np.asarray(parent)).astype(float)
        error = np.abs(np.asarray(composite.image) - truth).mean()
        nothing = np.abs(np.asarray(parent) - truth).mean()
        assert error < nothing / 10, kind


def test_new_structure_that_no_colour_model_explains_is_taken_from_the_result():
    parent = photo()
    seen = working_copy(parent)
    hat = seen.copy()
    ImageDraw.Draw(hat).rectangle([10, 8, 30, 24], fill=(250, 250, 0))
    mask = Image.new("L", seen.size, 0)
    ImageDraw.Draw(mask).rectangle([8, 6, 32, 26], fill=255)
    composite = compose(parent, result_of(seen, hat, mask))
    x, y = 20 * parent.width // seen.width, 16 * parent.height // seen.height
    assert np.abs(np.asarray(composite.image)[y, x].astype(int) - (250, 250, 0)).max() < 30


def test_a_colour_only_model_s_errors_never_blur_the_photo():
    """A model that draws nothing new (the photo model) is carried through the colour models
    even where its result is noisy: the photo keeps its detail, where the result of a model
    that may draw is partly taken enlarged, a blur of the working size."""
    parent = photo()
    seen = working_copy(parent)
    darker = np.asarray(seen) * world.DARKEN_GAIN
    noise = np.random.default_rng(1).normal(0, 20, darker.shape)  # the model's own error
    noisy = Image.fromarray(np.clip(darker + noise, 0, 255).round().astype(np.uint8))
    truth = pixels(parent) * world.DARKEN_GAIN
    errors = {}
    for colour_only in (False, True):
        result = result_of(seen, noisy, Image.new("L", seen.size, 255), colour_only)
        errors[colour_only] = np.abs(pixels(compose(parent, result).image) - truth).mean()
    assert errors[True] < 0.03 < errors[False]


def test_the_mask_border_is_feathered_not_a_hard_seam():
    parent = photo()
    seen = working_copy(parent)
    mask = Image.new("L", seen.size, 0)
    ImageDraw.Draw(mask).rectangle([10, 10, 30, 20], fill=255)
    soft = mask.filter(ImageFilter.GaussianBlur(1))
    composite = compose(parent, result_of(seen, Image.fromarray(255 - np.asarray(seen)), soft))
    values = np.unique(np.asarray(composite.mask))
    assert len(values[(values > 0) & (values < 255)]) > 20  # a ramp, not a step


# --- masks from the model's own predictions -------------------------------------------------


@pytest.fixture(scope="module")
def editor():
    return load_editor("demo")


def test_a_local_edit_masks_the_shape_it_names_and_little_else(editor):
    image = world.render_image(SCENE)
    result = editor.edit(EditRequest(image, "make the circle blue", seed=1, confine=True))
    mask = np.asarray(result.mask) > 0
    circle = world.coverage(SCENE.shapes[0]) >= 1
    square = world.coverage(SCENE.shapes[1]) >= 1
    assert mask[circle].mean() > 0.9
    assert mask[square].mean() < 0.2
    assert mask.mean() < 0.5


def test_a_restyle_may_change_the_whole_picture(editor):
    result = editor.edit(EditRequest(world.render_image(SCENE), "darken the image", seed=1))
    assert np.asarray(result.mask).min() == 255


def test_a_confined_edit_composed_at_full_size_leaves_the_rest_exactly(editor):
    parent = world.render_image(SCENE).resize((320, 320), Image.Resampling.NEAREST)
    result = editor.edit(EditRequest(parent, "make the circle blue", seed=2, confine=True))
    composite = compose(parent, result)
    square = np.kron(world.coverage(SCENE.shapes[1]) >= 1, np.ones((10, 10), bool))
    assert np.array_equal(np.asarray(composite.image)[square], np.asarray(parent)[square])
    circle = np.kron(world.coverage(SCENE.shapes[0]) >= 1, np.ones((10, 10), bool))
    red, now = np.asarray(parent)[circle].mean(0), np.asarray(composite.image)[circle].mean(0)
    assert now[2] > red[2] + 60 and now[0] < red[0] - 60  # the circle turned towards blue


# --- a person's mask ------------------------------------------------------------------------


def region(size=(32, 32), box=(0, 0, 16, 32)) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def test_a_mask_of_the_same_shape_at_another_size_is_resized():
    assert fit_region(region((64, 64), (0, 0, 32, 64)), (32, 32)).size == (32, 32)


@pytest.mark.parametrize("mask, words", [
    (region((64, 32)), "draw the mask over the image"),
    (Image.new("L", (32, 32), 0), "all black"),
    (Image.new("L", (32, 32), 255), "all white"),
])
def test_unusable_masks_are_refused_with_one_sentence(mask, words):
    with pytest.raises(EditorError, match=words):
        fit_region(mask, (32, 32))


# --- through the chat turn ------------------------------------------------------------------


@pytest.fixture
def agent(editor, tmp_path):
    store = SessionStore(None, tmp_path)
    return Agent(store, editor, load_interpreter("rules", editor.defaults), owner="ann", seed=3)


def start(agent, image: Image.Image) -> str:
    return agent.store.create_session("ann", to_png_bytes(image), "scene").id


def node_image(agent, session, node_id=None) -> Image.Image:
    return load_image(agent.store.node_image("ann", session, node_id))


def test_untouched_pixels_survive_many_turns_exactly_at_the_photos_own_size(agent):
    parent = world.render_image(SCENE).resize((451, 300), Image.Resampling.NEAREST)
    session = start(agent, parent)
    for text in ("make the circle blue", "make the circle yellow", "make the circle purple"):
        assert run_turn(agent, session, text).changed
    now = node_image(agent, session)
    assert now.size == parent.size
    history = agent.store.history("ann", session)
    untouched = np.ones((300, 451), bool)
    for node in history.nodes[1:]:
        mask = load_image(agent.store.node_mask("ann", session, node.id)).convert("L")
        assert mask.size == parent.size
        untouched &= np.asarray(mask) == 0
    assert untouched.mean() > 0.5
    assert np.array_equal(np.asarray(now)[untouched], np.asarray(parent)[untouched])


def test_a_drawn_region_confines_the_edit(agent):
    image = world.render_image(SCENE)
    session = start(agent, image)
    left = region()  # the left half: the circle, not the square
    result = run_turn(agent, session, "make the circle blue", region=left)
    assert result.changed
    right = np.asarray(left) == 0
    assert np.array_equal(np.asarray(node_image(agent, session))[right],
                          np.asarray(image)[right])


@pytest.mark.parametrize("mask, text, error", [
    (region(), "darken the image", AgentError),  # a restyle cannot be masked
    (region((64, 32)), "make the circle blue", EditorError),
    (Image.new("L", (32, 32), 0), "make the circle blue", EditorError),
])
def test_a_refused_mask_commits_nothing(agent, mask, text, error):
    session = start(agent, world.render_image(SCENE))
    with pytest.raises(error):
        run_turn(agent, session, text, region=mask)
    assert len(agent.store.history("ann", session).nodes) == 1


# --- drift checks read the mask -------------------------------------------------------------


def test_a_local_edit_whose_mask_covers_most_of_the_picture_has_drifted():
    parent = world.render_image(SCENE)
    small, large = region(box=(0, 0, 8, 8)), region(box=(0, 0, 31, 28))
    edited = Image.fromarray(255 - np.asarray(parent))
    assert not has_drifted(measure_drift(parent, parent, small), "local")
    assert has_drifted(measure_drift(parent, parent, large), "local")
    assert not has_drifted(measure_drift(parent, parent, large), "global")
    assert has_drifted(measure_drift(edited, parent, small), "global")  # moved outside its mask


def test_an_edit_that_changed_nothing_inside_its_mask_has_not_acted():
    parent = world.render_image(SCENE)
    assert not has_acted(measure_drift(parent, parent, region()))
    changed = Image.fromarray(255 - np.asarray(parent))
    assert has_acted(measure_drift(changed, parent, Image.new("L", (32, 32), 255)))


def test_every_finished_turn_leaves_no_images_behind(agent):
    session = start(agent, world.render_image(SCENE))
    run_turn(agent, session, "make the circle blue", region=region())
    run_turn(agent, session, "undo", region=region())
    run_turn(agent, session, "help")
    assert agent.scratch == {}
