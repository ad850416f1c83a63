"""FLUX.1 Kontext and Qwen-Image-Edit: editors with one guidance scale, on tiny random models
built locally (tests/tiny_models.py), through the editor, the CLI, the turn graph and the
rules. They have no s_I: nothing may offer or record one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from huggingface_hub import constants
from PIL import Image

from agent.cli import main
from agent.interpret import load_interpreter
from agent.rules import RuleInterpreter
from agent.turn import Agent, choose_option, run_turn
from editor import EditorError, EditRequest, load_editor
from editor.demo.world import Scene, Shape, render_image
from editor.images import to_png_bytes
from editor.models import KNOWN_MODELS, KnownModel, model_defaults
from memory import SessionStore


@pytest.fixture(scope="module")
def kontext(tiny_kontext):
    return load_editor(str(tiny_kontext))


@pytest.fixture(scope="module")
def qwen(tiny_qwen_edit):
    return load_editor(str(tiny_qwen_edit))


@pytest.fixture
def photo(tmp_path):
    """A 45×30 picture of noise, which no working size matches."""
    noise = np.random.default_rng(0).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    return to_file(Image.fromarray(noise), tmp_path / "photo.png")


def to_file(image: Image.Image, path):
    image.save(path)
    return path


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_both_models_say_they_have_no_image_guidance(tiny_kontext, tiny_qwen_edit):
    for folder, scale in ((tiny_kontext, 2.5), (tiny_qwen_edit, 4.0)):
        defaults = model_defaults(str(folder))  # read from the files, no weights loaded
        assert not defaults.image_guidance
        assert defaults.text_scale == scale  # the pipeline's own recommended scale
        assert load_editor(str(folder)).defaults == defaults


@pytest.mark.parametrize("name", ["kontext", "qwen"])
def test_the_one_scale_is_applied_and_a_seed_reproduces(name, request, photo):
    """s_T is Kontext's guidance_scale and Qwen's true_cfg_scale. Qwen's pipeline ignores
    true_cfg_scale without a negative prompt; the editor always passes one, so two scales
    give two pictures."""
    editor = request.getfixturevalue(name)
    image = Image.open(photo).convert("RGB")
    low, high, again = (editor.edit(EditRequest(image, "make the circle blue",
                                                text_scale=scale, seed=3))
                        for scale in (1.5, 6.0, 6.0))
    assert np.abs(pixels(low.image) - pixels(high.image)).max() > 0
    assert np.array_equal(pixels(high.image), pixels(again.image))
    assert (high.text_scale, high.image_scale) == (6.0, None)
    assert high.image.size == high.seen.size == high.mask.size == (high.width, high.height)


def test_an_image_scale_or_another_scheduler_is_one_sentence(kontext, photo):
    image = Image.open(photo).convert("RGB")
    with pytest.raises(EditorError, match=r"no image guidance \(s_I\); leave s_I out"):
        kontext.edit(EditRequest(image, "make it blue", image_scale=1.5))
    with pytest.raises(EditorError, match="own flow_match_euler scheduler"):
        kontext.edit(EditRequest(image, "make it blue", scheduler="dpmpp_2m"))


@pytest.mark.parametrize("fixture", ["tiny_kontext", "tiny_qwen_edit"])
def test_cli_edit_writes_the_input_size_and_says_there_is_no_s_i(
    fixture, request, photo, tmp_path, capsys
):
    model, out = request.getfixturevalue(fixture), tmp_path / "edited.png"
    assert main(["edit", str(photo), "make the sky red", "--model", str(model), "--out",
                 str(out), "--s-t", "3", "--seed", "5"]) == 0
    assert "s_T 3, no s_I, seed 5, 2 steps (flow_match_euler)" in capsys.readouterr().out
    assert Image.open(out).size == (45, 30)

    assert main(["edit", str(photo), "make the sky red", "--model", str(model), "--out",
                 str(tmp_path / "no.png"), "--s-i", "1.5"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: Model ") and "leave s_I out" in err
    assert "Traceback" not in err
    assert not (tmp_path / "no.png").exists()


def test_cli_grid_varies_s_t_alone(tiny_kontext, photo, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["grid", str(photo), "make the sky red", "--model", str(tiny_kontext),
                 "--out", str(out), "--seed", "1"]) == 0
    assert "rows s_T 1.67, 2.5, 3.33; columns s_I none (no s_I)" in capsys.readouterr().out
    assert Image.open(out).height > Image.open(out).width  # three rows, one column


def test_missing_weights_are_one_sentence_and_the_demo_model_edits(
    tiny_model, photo, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(KNOWN_MODELS, "demo", KnownModel(str(tiny_model), {}, "train it"))
    for name, hub_id in (("kontext", "black-forest-labs/FLUX.1-Kontext-dev"),
                         ("qwen-edit", "Qwen/Qwen-Image-Edit-2509")):
        out = tmp_path / f"{name}.png"
        assert main(["edit", str(photo), "make the sky red", "--model", name, "--out",
                     str(out)]) == 0
        warning = capsys.readouterr().err
        assert f"warning: Model '{name}' ({hub_id}) is neither a local folder nor in" in warning
        assert f"hf download {hub_id}" in warning and "demo model instead." in warning
        assert out.exists()


def scene_png() -> bytes:
    shapes = (Shape("circle", "red", 12, 12, 6), Shape("square", "green", 22, 22, 4))
    return to_png_bytes(render_image(Scene("white", shapes)).resize((48, 48)))


@pytest.fixture
def kontext_agent(kontext, tmp_path):
    store = SessionStore(None, tmp_path)
    yield Agent(store, kontext, load_interpreter("rules", kontext.defaults), owner="ann")
    store.close()


def test_a_chat_turn_with_kontext_offers_and_records_s_t_alone(kontext_agent):
    agent = kontext_agent
    session = agent.store.create_session("ann", scene_png(), "scene").id

    edited = run_turn(agent, session, "make the circle blue")
    assert edited.changed
    assert edited.command.image_scale is None
    assert "this model has no s_I" in edited.reply and "Used s_T 2.5 (how big a change" in \
        edited.reply and "s_I 0" not in edited.reply
    node = agent.store.history("ann", session).nodes[-1].params
    assert (node.text_scale, node.image_scale) == (2.5, None)
    assert Image.open(io.BytesIO(agent.store.node_image("ann", session))).size == (48, 48)

    closer = run_turn(agent, session, "keep more of the original")
    assert closer.command.action == "refine" and closer.command.image_scale is None
    assert closer.command.text_scale == 1.98  # no s_I to raise: s_T × 0.79 instead

    options = run_turn(agent, session, "show me options").options  # around the image shown
    assert options is not None
    assert options.labels == ["s_T 1.32", "s_T 1.98", "s_T 2.64"]
    picked = choose_option(agent, options, 2)
    assert picked.changed and "s_T 2.64." in picked.reply


def test_a_chat_turn_with_qwen_edits_at_the_input_size(qwen, tmp_path):
    store = SessionStore(None, tmp_path)
    agent = Agent(store, qwen, load_interpreter("rules", qwen.defaults), owner="ann")
    session = store.create_session("ann", scene_png(), "scene").id
    result = run_turn(agent, session, "make it a snowy winter scene")
    assert result.changed and "Used s_T 4 (how big a change; this model has no s_I" in \
        result.reply
    node = store.history("ann", session).nodes[-1]
    assert (node.width, node.height) == (48, 48) and node.params.image_scale is None
    store.close()


def test_the_rules_suggest_no_s_i_for_a_model_without_one(kontext):
    rules = RuleInterpreter(kontext.defaults)
    local = rules.interpret("add a hat")
    assert (local.text_scale, local.image_scale) == (2.5, None)
    assert "no s_I, so the edit is kept to where it acts" in local.rationale
    assert rules.interpret("make it very snowy").text_scale == 3.25
