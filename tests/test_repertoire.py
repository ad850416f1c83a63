"""Honest replies: an instruction outside what the embedded model learned gets one sentence
that says so, before any edit is spent; help and the chat box follow the repertoire."""

import pytest

from agent.command import Command
from agent.interpret import load_interpreter
from agent.repertoire import example_instruction, unknown_words, within_repertoire
from agent.setup import open_editor
from agent.turn import Agent, run_turn
from editor.demo import photos, world
from editor.images import to_png_bytes
from memory import SessionStore

SCENE = world.render_image(world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),)))
PHOTO_REPERTOIRE = photos.repertoire()


@pytest.fixture(scope="module")
def editor():
    return open_editor("demo", warn=print)


@pytest.fixture
def agent(editor, tmp_path):
    return Agent(SessionStore(None, tmp_path), editor,
                 load_interpreter("rules", editor.defaults), owner="ann")


@pytest.mark.parametrize("text, unknown", [
    ("make it a snowy winter scene", ["snowy", "winter"]),
    ("add a hat", ["hat"]),
    ("make the cat's fur white", ["cat", "s", "fur"]),
    ("make it a bit warmer", []),
    ("give it a slight blue tint", ["slight"]),
    ("much more contrast", []),
])
def test_words_the_photo_model_never_learned(text, unknown):
    assert unknown_words(text, PHOTO_REPERTOIRE) == unknown


def test_an_edit_outside_the_repertoire_becomes_one_honest_sentence():
    command = Command(action="edit", instruction="add a hat")
    reply = within_repertoire(command, PHOTO_REPERTOIRE)
    assert reply.action == "help"
    sentence = reply.rationale
    assert sentence.startswith("No edit made") and "'hat'" in sentence
    assert "colours and light" in sentence and "--model ip2p" in sentence
    assert sentence.replace("e.g.", "eg").count(". ") == 0  # one sentence


def test_a_real_checkpoint_is_trusted_with_anything():
    command = Command(action="edit", instruction="add a hat")
    assert within_repertoire(command, None) == command


def test_add_a_hat_on_the_demo_model_spends_no_edit(agent):
    session = agent.store.create_session("ann", to_png_bytes(SCENE), "scene").id
    result = run_turn(agent, session, "add a hat")
    assert not result.changed and "never learned 'add hat'" in result.reply
    assert "--model ip2p" in result.reply
    history = agent.store.history("ann", session)
    assert len(history.nodes) == 1  # nothing stored, nothing edited
    assert agent.store.messages("ann", session)[-1].text == result.reply


def test_an_edit_inside_the_repertoire_still_runs(agent):
    session = agent.store.create_session("ann", to_png_bytes(SCENE), "scene").id
    assert run_turn(agent, session, "make the circle blue").changed


def test_help_says_what_the_model_can_do(agent):
    session = agent.store.create_session("ann", to_png_bytes(SCENE), "scene").id
    result = run_turn(agent, session, "help")
    assert "flat scenes of shapes" in result.reply and not result.changed


def test_the_chat_box_suggests_what_the_picture_s_model_knows(editor):
    assert example_instruction(editor, SCENE) == "make the background blue"


def test_a_model_without_a_repertoire_suggests_anything():
    class RealCheckpoint:
        pass

    assert example_instruction(RealCheckpoint(), SCENE) == "make it a snowy winter scene"


def test_a_kind_left_out_of_the_repertoire_is_refused():
    """A shipped model offers only the kinds it learned well enough (see its model card)."""
    offered = photos.repertoire([kind for kind in photos.KINDS if kind != "tint"])
    refused = within_repertoire(Command(action="edit", instruction="give it a red tint"), offered)
    assert refused.action == "help" and "'red tint'" in refused.rationale
    kept = within_repertoire(Command(action="edit", instruction="make it much warmer"), offered)
    assert (kept.action, kept.instruction) == ("edit", "make it much warmer")


@pytest.mark.parametrize("picture, text, scales, reason", [
    # The rules would say s_T 1.95 and s_I 1.2; the photo model reads "much" and "darker".
    ("photo", "make it much darker", (1.5, 1.5), "learned every word"),
    ("photo", "make it sepia", (1.5, 1.5), "learned every word"),  # rules: s_I 1.2
    ("scene", "make the circle blue", (1.5, 1.5), "learned every word"),  # rules: s_I 2.0
    # The shapes model never learned "much": only s_T can carry it.
    ("scene", "make it much darker", (1.95, 1.5), "never learned 'much'"),
])
def test_the_embedded_models_edit_at_the_scales_their_quality_was_measured_at(
        agent, picture, text, scales, reason):
    image = SCENE if picture == "scene" else photos.held_out_photo("china.jpg").resize((96, 64))
    session = agent.store.create_session("ann", to_png_bytes(image), picture).id
    result = run_turn(agent, session, text)
    assert result.changed and reason in result.reply
    params = agent.store.history("ann", session).nodes[-1].params
    assert (params.text_scale, params.image_scale) == scales
    assert agent.editor.defaults.text_scale == agent.editor.defaults.image_scale == 1.5
