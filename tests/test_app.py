"""The app's wiring, driven by Streamlit's AppTest on a tiny random model (no browser).

Sessions and edits a test needs before the page opens are written straight into the store,
so only the behaviour under test runs the editor. The page in a real browser (upload,
chat, undo, download) is covered by tests/test_browser.py.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from editor.demo.world import SIZE, Scene, Shape, render_image
from editor.images import to_png_bytes
from editor.models import KNOWN_MODELS
from memory import NodeInfo, SessionInfo, SessionStore
from ui.actions import sample_scene
from ui.config import read_config
from ui.pictures import region_overlay

SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"
OWNER = "tester"


def scene_png(circle: str = "red") -> bytes:
    shapes = (Shape("circle", circle, 12, 12, 6), Shape("square", "green", 22, 22, 4))
    return to_png_bytes(render_image(Scene("white", shapes)))


def mask_png(box: tuple[int, int, int, int], size: tuple[int, int] = (SIZE, SIZE)) -> bytes:
    """A greyscale mask, white inside `box` (left, top, right, bottom), black elsewhere."""
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return to_png_bytes(mask)


CIRCLE_MASK = mask_png((5, 5, 20, 20))  # around the circle of `scene_png`


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path):
    """The store the app opens: an empty data folder of its own, the tiny model."""
    monkeypatch.setenv("PIXCHAT_MODEL", str(tiny_model))
    monkeypatch.setenv("PIXCHAT_DATA", str(tmp_path))
    monkeypatch.setenv("PIXCHAT_OWNER", OWNER)
    store = SessionStore(None, tmp_path)
    yield store
    store.close()


def open_app() -> AppTest:
    """The page as a fresh browser tab sees it, editing with 2 denoising steps."""
    app = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    app.number_input(key="steps").set_value(2).run()
    assert not app.exception
    return app


def add_edit(store: SessionStore, session: SessionInfo, parent_id: int, colour: str) -> NodeInfo:
    """An edit stored as if the agent had made it (global, so no drift retry)."""
    return store.commit_edit(
        OWNER, session.id, parent_id, scene_png(colour), chat_text=f"make the circle {colour}",
        instruction=f"make the circle {colour}", text_scale=3.0, image_scale=1.5, seed=7,
        steps=2, metrics={"scope": "global"},
    )


def shown(app: AppTest) -> tuple[str, str]:
    """The URL and caption of the big current image (its caption starts with "Step")."""
    [image] = [image for image in app.image if image.captions[0].startswith("Step ")]
    return image.value[0], image.captions[0]


def transcript(app: AppTest) -> list[str]:
    return [message.markdown[0].value for message in app.chat_message]


def head(store: SessionStore, session_id: str) -> NodeInfo:
    history = store.history(OWNER, session_id)
    return next(node for node in history.nodes if node.id == history.session.head_id)


def test_upload_starts_a_session_showing_the_image(store):
    app = open_app()
    assert "Upload an image in the sidebar" in app.info[0].value

    app.file_uploader(key="upload").set_value(("scene.png", scene_png(), "image/png")).run()

    [session] = store.list_sessions(OWNER)
    assert session.title == "scene"
    assert app.selectbox(key="session_id").value == session.id
    assert shown(app)[1] == "Step 0: the original, 32×32"
    assert store.node_image(OWNER, session.id) == scene_png()
    assert not app.error and not app.exception


def test_a_bad_upload_is_one_error_and_keeps_the_open_session(store):
    session = store.create_session(OWNER, scene_png(), "kept")
    app = open_app()
    before = shown(app)

    app.file_uploader(key="upload").set_value(("photo.png", b"not a picture", "image/png")).run()

    [error] = app.error
    assert error.value.startswith("photo.png could not be used: ")
    assert "\n" not in error.value and "Traceback" not in error.value
    assert [s.id for s in store.list_sessions(OWNER)] == [session.id]
    assert app.selectbox(key="session_id").value == session.id
    assert shown(app) == before
    assert not app.exception


def test_a_chat_turn_edits_the_image_and_survives_a_reload(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    app = open_app()
    original_url = shown(app)[0]

    app.chat_input(key="chat").set_value("make the circle blue").run()

    edit = head(store, session.id)
    assert edit.parent_id is not None and edit.params.instruction == "make the circle blue"
    url, caption = shown(app)
    assert url != original_url
    assert caption.startswith("Step 1: 'make the circle blue' s_T ")
    said = transcript(app)
    assert said[0] == "make the circle blue" and "Used s_T" in said[1]
    assert app.slider(key=f"text_scale_{edit.id}").value == pytest.approx(edit.params.text_scale)
    assert app.slider(key=f"image_scale_{edit.id}").value == pytest.approx(
        edit.params.image_scale)

    reloaded = open_app()  # a new tab, or the app restarted on the same database
    assert reloaded.selectbox(key="session_id").value == session.id
    assert transcript(reloaded) == said
    assert shown(reloaded) == (url, caption)


def test_edits_use_the_model_s_own_sampler_until_one_is_chosen(
    store, tmp_path, tiny_model, monkeypatch
):
    folder = shutil.copytree(tiny_model, tmp_path / "dpm-model")
    (folder / "pixchat.json").write_text('{"scheduler": "dpmpp_2m"}')
    monkeypatch.setenv("PIXCHAT_MODEL", str(folder))
    session = store.create_session(OWNER, scene_png(), "scene")
    app = open_app()
    assert app.selectbox(key="scheduler").value is None  # "the model's own"

    app.chat_input(key="chat").set_value("make the circle blue").run()
    assert head(store, session.id).params.scheduler == "dpmpp_2m"
    app.selectbox(key="scheduler").set_value("euler_ancestral").run()
    app.chat_input(key="chat").set_value("make the circle red").run()
    assert head(store, session.id).params.scheduler == "euler_ancestral"
    assert not app.error and not app.exception


def test_undo_and_redo_move_between_the_original_and_the_edit(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    app = open_app()
    original_url = shown(app)[0]
    assert app.button(key="undo").disabled and app.button(key="redo").disabled
    add_edit(store, session, session.root_id, "blue")
    edited_url = shown(app.run())[0]
    assert edited_url != original_url

    app.button(key="undo").click().run()

    assert shown(app) == (original_url, "Step 0: the original, 32×32")
    assert head(store, session.id).id == session.root_id
    assert app.button(key="undo").disabled and not app.button(key="redo").disabled
    assert transcript(app)[-2:] == ["undo", "Going back one step. Now at step 0: the original "
                                    "image."]

    app.button(key="redo").click().run()

    assert shown(app)[0] == edited_url
    assert app.button(key="redo").disabled and not app.button(key="undo").disabled


def test_apply_reruns_the_instruction_with_the_sliders_as_a_sibling(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    edit = add_edit(store, session, session.root_id, "blue")
    app = open_app()

    app.slider(key=f"text_scale_{edit.id}").set_value(5.0)
    app.slider(key=f"image_scale_{edit.id}").set_value(1.2)
    app.button(key="apply").click().run()

    applied = head(store, session.id)
    assert applied.id != edit.id and applied.parent_id == session.root_id  # a sibling
    assert applied.params.instruction == "make the circle blue"
    assert (applied.params.text_scale, applied.params.image_scale) == (5.0, 1.2)
    assert app.slider(key=f"text_scale_{applied.id}").value == 5.0
    assert app.slider(key=f"image_scale_{applied.id}").value == 1.2
    assert not app.error and not app.exception


def options_waiting(store: SessionStore) -> tuple[SessionInfo, NodeInfo, AppTest]:
    """A session with one edit, open in a tab where "Show options" was just clicked."""
    session = store.create_session(OWNER, scene_png(), "scene")
    edit = add_edit(store, session, session.root_id, "blue")
    app = open_app()
    app.button(key="show_options").click().run()
    return session, edit, app


def option_buttons(app: AppTest) -> list:
    return [button for button in app.button if button.key.startswith("use_option_")]


def test_show_options_then_use_this_keeps_that_option(store):
    session, edit, app = options_waiting(store)

    choices = option_buttons(app)
    assert len(choices) == 9 and all(button.label == f"Use {button.help}" for button in choices)
    assert any(image.captions[0].startswith("Options for 'make the circle blue': rows s_T")
               for image in app.image)
    assert head(store, session.id).id == edit.id  # nothing kept before a pick
    label = app.button(key="use_option_2").help  # first row (s_T low), last column (s_I high)

    app.button(key="use_option_2").click().run()

    chosen = head(store, session.id)
    assert chosen.parent_id == session.root_id
    assert label == f"s_T {chosen.params.text_scale:g} · s_I {chosen.params.image_scale:g}"
    assert chosen.params.text_scale < 3.0 and chosen.params.image_scale > 1.5
    assert not option_buttons(app)
    assert transcript(app)[-1].startswith("Using option 3")


def test_a_vague_message_is_asked_back_and_an_answer_button_runs_it(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    add_edit(store, session, session.root_id, "blue")
    app = open_app()

    app.chat_input(key="chat").set_value("hmm, not quite").run()

    assert "?" in transcript(app)[-1]
    answers = [button.label for button in app.button if button.key.startswith("choice_")]
    assert answers == ["undo", "again", "show me options"]
    assert len(store.history(OWNER, session.id).nodes) == 2  # nothing was edited

    app.button(key="choice_0").click().run()

    assert head(store, session.id).id == session.root_id
    assert transcript(app)[-2] == "undo"
    assert not [button for button in app.button if button.key.startswith("choice_")]
    assert not app.error and not app.exception


def test_show_what_changed_tints_the_edited_region_and_says_when_there_is_none(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    before_masks = add_edit(store, session, session.root_id, "blue")
    store.commit_edit(OWNER, session.id, before_masks.id, scene_png("yellow"),
                      mask_png=CIRCLE_MASK, instruction="make the circle yellow",
                      text_scale=3.0, image_scale=1.5)
    app = open_app()
    plain_url, caption = shown(app)
    assert not app.toggle(key="show_changes").disabled and not app.toggle(key="show_changes").value

    app.toggle(key="show_changes").set_value(True).run()

    marked_url, marked_caption = shown(app)
    assert marked_url != plain_url
    assert marked_caption == f"{caption} (what changed is tinted)"
    app.radio(key="compare").set_value("Before ↔ after").run()
    [now] = [image for image in app.image if image.captions[0].startswith("Now — step 2")]
    assert now.captions[0].endswith("(what changed is tinted)")
    app.radio(key="compare").set_value("Now").run()

    app.button(key="undo").click().run()  # to an edit stored before masks were kept

    assert app.toggle(key="show_changes").disabled
    assert shown(app)[1] == "Step 1: 'make the circle blue' s_T 3 · s_I 1.5"
    assert "made before pixchat kept edit masks" in " ".join(c.value for c in app.caption)

    app.button(key="undo").click().run()

    assert app.toggle(key="show_changes").disabled
    assert "The original image has no changes to show." in [c.value for c in app.caption]
    app.button(key="redo").click().run()
    app.button(key="redo").click().run()
    assert shown(app) == (marked_url, marked_caption)  # the toggle stayed on
    assert not app.error and not app.exception


def test_a_region_upload_is_shown_on_the_image_and_a_bad_one_is_one_error(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    app = open_app()
    region = app.file_uploader(key=f"region_{session.id}")
    assert region.label == "Limit the edit to a region: a PNG, white = may change"

    # drawn at twice the image's size: the same shape, so it is simply resized
    region.set_value(("circle.png", mask_png((10, 10, 40, 40), size=(64, 64)), "image/png")).run()

    [preview] = [image for image in app.image if image.captions[0].startswith("The next edits")]
    assert preview.captions[0] == "The next edits may change only the tinted part."
    assert not app.error and not app.exception

    app.file_uploader(key=f"region_{session.id}").set_value(
        ("notes.png", b"not a picture", "image/png")).run()

    [error] = app.error
    assert error.value.startswith("notes.png cannot limit the edit: the upload is not an image")
    assert "\n" not in error.value and not app.exception
    assert not [image for image in app.image if image.captions[0].startswith("The next edits")]
    assert shown(app)[1] == "Step 0: the original, 32×32"
    for name, mask, problem in [("wide.png", mask_png((0, 0, 8, 8), size=(64, 32)),
                                 "The mask is 64×32 but the image is 32×32"),
                                ("black.png", mask_png((0, 0, 0, 0)), "The mask is all black")]:
        app.file_uploader(key=f"region_{session.id}").set_value((name, mask, "image/png")).run()
        [error] = app.error
        assert error.value.startswith(f"{name} cannot limit the edit: {problem}")


def say_with_region(store: SessionStore, text: str) -> tuple[AppTest, SessionInfo]:
    """A new session of `scene_png`, the circle's region uploaded, then `text` said."""
    session = store.create_session(OWNER, scene_png(), "scene")
    app = open_app()
    app.file_uploader(key=f"region_{session.id}").set_value(
        ("circle.png", CIRCLE_MASK, "image/png")).run()
    app.chat_input(key="chat").set_value(text).run()
    return app, session


def test_a_chat_edit_with_a_region_changes_nothing_outside_it(store):
    app, session = say_with_region(store, "make the circle blue")

    edit = head(store, session.id)
    assert edit.parent_id == session.root_id and not app.error and not app.exception
    before = np.asarray(Image.open(io.BytesIO(scene_png())))
    after = np.asarray(Image.open(io.BytesIO(store.node_image(OWNER, session.id))))
    mask = np.asarray(Image.open(io.BytesIO(store.node_mask(OWNER, session.id))))
    outside = np.asarray(Image.open(io.BytesIO(CIRCLE_MASK))) == 0
    assert (after[outside] == before[outside]).all()  # bit for bit
    assert (mask[outside] == 0).all() and mask.max() == 255
    assert not (after == before).all()  # and inside it, the edit did something

    app.button(key="undo").click().run()  # a region does not get in the way of navigation
    assert head(store, session.id).id == session.root_id and not app.error


def test_a_region_given_with_a_global_restyle_is_one_error_and_nothing_is_stored(store):
    app, session = say_with_region(store, "make it a snowy winter scene")

    [error] = app.error
    assert error.value.startswith("A mask limits a local edit, but 'make it a snowy winter ")
    assert len(store.history(OWNER, session.id).nodes) == 1 and not app.exception


def test_none_of_these_keeps_the_image_and_closes_the_options(store):
    session, edit, app = options_waiting(store)
    assert len(option_buttons(app)) == 9

    app.button(key="dismiss_options").click().run()

    assert head(store, session.id).id == edit.id
    assert len(store.history(OWNER, session.id).nodes) == 2
    assert not option_buttons(app)
    assert transcript(app)[-1].startswith("Kept the image as it was")
    assert not app.error and not app.exception


def test_a_new_message_instead_of_a_pick_closes_the_options(store):
    session, edit, app = options_waiting(store)

    app.chat_input(key="chat").set_value("make the circle red").run()

    new = head(store, session.id)
    assert new.parent_id == edit.id and new.params.instruction == "make the circle red"
    assert len(store.history(OWNER, session.id).nodes) == 3  # no option was kept
    assert not option_buttons(app)
    assert not app.error and not app.exception


def test_a_closed_tab_with_options_waiting_keeps_the_image(store):
    session, edit, closed = options_waiting(store)
    del closed  # the tab is closed before a pick

    app = open_app()  # the person comes back in a new tab

    assert head(store, session.id).id == edit.id and not option_buttons(app)
    app.chat_input(key="chat").set_value("make the circle red").run()
    assert head(store, session.id).parent_id == edit.id
    assert not app.error and not app.exception


def test_history_shows_the_tree_and_reverts_to_any_step(store):
    session = store.create_session(OWNER, scene_png(), "scene")
    first = add_edit(store, session, session.root_id, "blue")
    second = add_edit(store, session, session.root_id, "yellow")  # a branch from the original
    third = add_edit(store, session, second.id, "red")  # a child of the branch
    app = open_app()
    rows = [text.value.replace("\u00a0", " ") for text in app.markdown if "** · " in text.value]
    # Siblings hang off the original under ├─ and └─; the child stays in its parent's column.
    assert [row.split("**")[0] for row in rows] == ["", "`├─ `", "`└─ `", "`   `"]
    assert [row.split("**")[1] for row in rows] == ["0", "1", "2", "3"]
    with pytest.raises(KeyError):
        app.button(key="revert_3")  # the current step has no "Go here"

    app.button(key="revert_1").click().run()

    assert head(store, session.id).id == first.id not in (second.id, third.id)
    assert shown(app)[1].startswith("Step 1: 'make the circle blue'")
    assert transcript(app)[-1] == "Going back to step 1."


def test_rename_and_delete_after_confirmation(store):
    old = store.create_session(OWNER, scene_png(), "old")
    new = store.create_session(OWNER, scene_png("blue"), "new")
    app = open_app()
    assert app.selectbox(key="session_id").value == new.id  # the latest first

    app.text_input(key=f"title_{new.id}").set_value("blue circle").run()
    assert store.history(OWNER, new.id).session.title == "blue circle"
    picker = app.selectbox(key="session_id")
    assert picker.value == new.id and picker.options[0].startswith("blue circle · ")

    app.button(key="delete").click().run()
    assert "cannot be undone" in app.warning[0].value
    assert len(store.list_sessions(OWNER)) == 2  # not before the confirmation

    app.button(key="delete_yes").click().run()
    assert [s.id for s in store.list_sessions(OWNER)] == [old.id]
    assert app.selectbox(key="session_id").value == old.id
    assert not app.exception


def test_an_unknown_interpreter_is_one_clear_error(store, monkeypatch):
    monkeypatch.setenv("PIXCHAT_INTERPRETER", "oracle")
    app = AppTest.from_file(str(SCRIPT), default_timeout=180).run()

    [error] = app.error
    assert error.value.startswith("Unknown interpreter 'oracle'; use 'rules' or 'vlm:")
    assert not app.exception


def test_on_the_demo_model_the_app_says_so_and_offers_a_sample_scene(
    store, monkeypatch, tiny_model
):
    # The tiny model stands in for the embedded demo model (loaded once per process).
    monkeypatch.setitem(KNOWN_MODELS, "demo", replace(KNOWN_MODELS["demo"], source=str(tiny_model)))
    monkeypatch.setenv("PIXCHAT_MODEL", "demo")
    st.cache_resource.clear()
    try:
        app = open_app()
        [note] = app.sidebar.info
        assert "embedded demo model" in note.value and "--model ip2p" in note.value

        app.button(key="sample").click().run()

        [session] = store.list_sessions(OWNER)
        assert session.title.startswith("Sample: ")
        assert shown(app)[1] == "Step 0: the original, 32×32"

        app.button(key="sample_photo").click().run()  # beside it, a photo for the photo model
        assert store.list_sessions(OWNER)[0].title == "Sample photo: a cat"
        assert shown(app)[1] == "Step 0: the original, 451×300"
    finally:
        st.cache_resource.clear()


def test_a_sample_scene_is_a_demo_world_picture_named_by_its_shapes():
    title, png = sample_scene(seed=3)
    image = Image.open(io.BytesIO(png))
    assert image.size == (SIZE, SIZE)
    assert title.startswith("Sample: ") and " on " in title
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 2  # shapes on a background
    assert sample_scene(seed=3) == (title, png)


def test_the_region_overlay_tints_the_white_region_and_dims_the_rest():
    photo = Image.new("RGB", (8, 4), (100, 150, 200))
    left_half = Image.new("L", (8, 4), 0)
    left_half.paste(255, (0, 0, 4, 4))

    marked = np.asarray(Image.open(io.BytesIO(region_overlay(to_png_bytes(photo),
                                                             to_png_bytes(left_half)))))

    inside, outside = marked[0, 0].astype(int), marked[0, 7].astype(int)
    assert (marked[:, :4] == inside).all() and (marked[:, 4:] == outside).all()
    assert inside[0] > 100 + 40 and inside[1] < 150  # pulled towards the pink tint
    assert outside.max() < 0.5 * 200 and outside[0] < outside[1] < outside[2]  # same hue, dim


def test_options_after_the_double_dash_override_the_environment(monkeypatch):
    monkeypatch.setenv("PIXCHAT_MODEL", "ip2p")
    monkeypatch.setenv("PIXCHAT_OWNER", "ann")

    config = read_config(["--model", "magicbrush", "--interpreter", "vlm:some/model"])

    assert (config.model, config.interpreter, config.owner) == ("magicbrush", "vlm:some/model",
                                                                 "ann")
    assert read_config([]).model == "ip2p"


def chat_once(store: SessionStore, text: str) -> tuple[AppTest, SessionInfo]:
    """A new session on the sample scene, and the app after one chat message."""
    session = store.create_session(OWNER, scene_png(), "scene")
    app = open_app()
    app.chat_input(key="chat").set_value(text).run()
    return app, session


def test_a_model_without_image_guidance_has_no_s_i_slider_and_says_why(
    store, tiny_kontext, monkeypatch
):
    monkeypatch.setenv("PIXCHAT_MODEL", str(tiny_kontext))
    app, session = chat_once(store, "make the circle blue")

    edit = head(store, session.id)
    assert (edit.params.text_scale, edit.params.image_scale) == (2.5, None)
    assert shown(app)[1] == "Step 1: 'make the circle blue' s_T 2.5"
    assert [slider.key for slider in app.slider] == [f"text_scale_{edit.id}"]
    assert any("no \"how close to the original\" slider" in caption.value
               for caption in app.caption)

    app.slider(key=f"text_scale_{edit.id}").set_value(4.0)
    app.button(key="apply").click().run()
    applied = head(store, session.id)
    assert (applied.params.text_scale, applied.params.image_scale) == (4.0, None)
    assert not app.error and not app.exception


def test_with_a_grounded_model_an_object_edit_repaints_the_object_and_says_so(
    store, tiny_sam_inpaint, monkeypatch
):
    monkeypatch.setenv("PIXCHAT_OBJECTS", str(tiny_sam_inpaint))
    app, session = chat_once(store, "replace the circle with a square")

    assert transcript(app)[-1].startswith("I found the circle (OWLv2, then SAM: ")
    assert head(store, session.id).params.model_id == str(tiny_sam_inpaint)
    assert not app.error and not app.exception
