"""Segment-then-inpaint: a named object found by OWLv2 and SAM, repainted by Stable Diffusion
inpainting, on tiny random models built locally (tests/tiny_models.py), through the editor,
the CLI and the turn graph. What counts: only the object's mask may change."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from huggingface_hub import constants
from PIL import Image

from agent.cli import main
from agent.interpret import load_interpreter
from agent.turn import Agent, run_turn
from editor import EditorError, EditRequest, grounding, load_editor
from editor.grounding import GroundedInpaintEditor, ObjectEdit, object_edit
from editor.models import KNOWN_MODELS, KnownModel
from memory import SessionStore

INSTRUCTION = "replace the circle with a square"


@pytest.fixture(scope="module")
def grounded(tiny_sam_inpaint) -> GroundedInpaintEditor:
    editor = load_editor(str(tiny_sam_inpaint))
    assert isinstance(editor, GroundedInpaintEditor)
    return editor


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    noise = np.random.default_rng(0).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    return Image.fromarray(noise)


def changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    return (np.asarray(before) != np.asarray(after)).any(axis=-1)


@pytest.mark.parametrize(("instruction", "expected"), [
    ("replace the car with a bicycle", ObjectEdit("car", "a bicycle")),
    ("Swap my hat for a crown.", ObjectEdit("hat", "a crown")),
    ("turn the red car into a tank", ObjectEdit("red car", "a tank")),
    ("remove the lamp", ObjectEdit("lamp", grounding.REMOVE_PROMPT)),
    ("get rid of the dog from the picture", ObjectEdit("dog", grounding.REMOVE_PROMPT)),
    ("make it a snowy winter scene", None),
    ("add a hat", None),
])
def test_which_instructions_name_an_object(instruction, expected):
    assert object_edit(instruction) == expected


def test_cli_edit_repaints_only_the_object_at_the_input_size(
    grounded, picture, tiny_sam_inpaint, tmp_path, capsys
):
    photo, out = tmp_path / "photo.png", tmp_path / "out.png"
    picture.save(photo)
    assert main(["edit", str(photo), INSTRUCTION, "--model", str(tiny_sam_inpaint), "--out",
                 str(out), "--seed", "2"]) == 0
    assert "no s_I, seed 2, 2 steps (pndm)" in capsys.readouterr().out
    edited = Image.open(out)
    assert edited.size == picture.size
    _, mask = grounded.find(picture, INSTRUCTION)
    assert mask is not None and 0 < np.asarray(mask).mean() < 255
    moved = changed(picture, edited)
    assert moved.any() and not (moved & (np.asarray(mask) == 0)).any()


def test_an_instruction_naming_no_object_is_one_sentence(tiny_sam_inpaint, picture, tmp_path,
                                                          capsys):
    photo = tmp_path / "photo.png"
    picture.save(photo)
    assert main(["edit", str(photo), "make it snowy", "--model", str(tiny_sam_inpaint),
                 "--out", str(tmp_path / "out.png")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: 'make it snowy' names no object to replace or remove; say e.g. 'replace the "
        "car with a bicycle' or 'remove the lamp'.")


def test_inpainting_alone_needs_a_mask_and_keeps_to_it(tiny_sam_inpaint, picture, tmp_path):
    folder = shutil.copytree(tiny_sam_inpaint, tmp_path / "inpaint",
                             ignore=shutil.ignore_patterns("detector", "segmenter"))
    inpainter = load_editor(str(folder))
    assert not isinstance(inpainter, GroundedInpaintEditor)
    with pytest.raises(EditorError, match="repaints only inside a mask"):
        inpainter.edit(EditRequest(picture, "a red square"))
    region = Image.new("L", picture.size, 0)
    region.paste(255, (5, 5, 20, 20))
    from editor.composite import compose

    result = inpainter.edit(EditRequest(picture, "a red square", seed=1, region=region))
    moved = changed(picture, compose(picture, result, region).image)
    assert moved.any() and not (moved & (np.asarray(region) == 0)).any()


@pytest.fixture
def agent(tiny_model, grounded, tmp_path):
    store = SessionStore(None, tmp_path)
    editor = load_editor(str(tiny_model))
    yield Agent(store, editor, load_interpreter("rules", editor.defaults), owner="ann",
                objects=grounded)
    store.close()


def test_a_turn_sends_an_object_edit_to_the_grounded_model_and_says_so(agent, picture):
    session = agent.store.create_session("ann", _png(picture), "noise").id

    result = run_turn(agent, session, INSTRUCTION)

    assert result.changed
    assert result.reply.startswith("I found the circle (OWLv2, then SAM: ")
    assert "and replaced it with a square, repainting only there." in result.reply
    node = agent.store.history("ann", session).nodes[-1]
    assert node.params.model_id == agent.objects.model_id and node.params.image_scale is None
    edited = Image.open(io.BytesIO(agent.store.node_image("ann", session)))
    mask = np.asarray(Image.open(io.BytesIO(agent.store.node_mask("ann", session, node.id))))
    moved = changed(picture, edited)
    assert edited.size == picture.size and moved.any() and not (moved & (mask == 0)).any()

    restyle = run_turn(agent, session, "make it snowy")  # no object named: the usual editor
    assert agent.store.history("ann", session).nodes[-1].params.model_id == \
        agent.editor.model_id
    assert "OWLv2" not in restyle.reply


def test_an_object_not_found_is_edited_as_usual_and_the_reply_says_so(
    agent, picture, monkeypatch
):
    monkeypatch.setattr(grounding, "DETECTION_THRESHOLD", 1.01)  # no box scores that high
    session = agent.store.create_session("ann", _png(picture), "noise").id
    result = run_turn(agent, session, INSTRUCTION)
    assert result.changed
    assert "I found no circle to repaint on its own, so the usual editor made the edit." in \
        result.reply
    assert agent.store.history("ann", session).nodes[-1].params.model_id == \
        agent.editor.model_id


def test_say_with_objects_through_the_cli(tiny_model, tiny_sam_inpaint, picture, tmp_path,
                                          capsys, monkeypatch):
    photo = tmp_path / "photo.png"
    picture.save(photo)
    data = ["--data", str(tmp_path / "data")]
    assert main([*data, "new", str(photo)]) == 0
    session = capsys.readouterr().out.strip().splitlines()[-1]

    assert main([*data, "say", session, INSTRUCTION, "--model", str(tiny_model), "--objects",
                 str(tiny_sam_inpaint), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["changed"] and said["reply"].startswith("I found the circle")

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(KNOWN_MODELS, "demo", KnownModel(str(tiny_model), {}, "train it"))
    assert main([*data, "say", session, INSTRUCTION, "--model", str(tiny_model), "--objects",
                 "sam-inpaint"]) == 0
    captured = capsys.readouterr()
    assert "warning: Model 'sam-inpaint' (stable-diffusion-v1-5/stable-diffusion-inpainting)" \
        in captured.err and "Objects are edited by the usual editor instead." in captured.err
    assert "OWLv2" not in captured.out


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
