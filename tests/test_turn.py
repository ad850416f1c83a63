"""A whole conversation through the turn graph: the tree, the head, the images, the transcript.

The editor is the embedded demo model, on a scene of its own world.
"""

import re

import pytest
from PIL import Image

from agent.command import Command
from agent.interpret import load_interpreter
from agent.turn import Agent, choose_option, run_turn
from editor import EditResult, load_editor
from editor.demo import world
from editor.images import to_png_bytes
from memory import SessionStore
from memory.errors import Forbidden, NotFound

SCENE = world.render_image(world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),
                                                  world.Shape("square", "green", 22, 22, 6))))


@pytest.fixture(scope="module")
def editor():
    return load_editor("demo")


@pytest.fixture
def agent(editor, tmp_path):
    store = SessionStore(None, tmp_path)
    return Agent(store, editor, load_interpreter("rules", editor.defaults), owner="ann")


@pytest.fixture
def session(agent):
    return agent.store.create_session("ann", to_png_bytes(SCENE), "scene").id


def say(agent, session, text, **kwargs):
    events = []
    result = run_turn(agent, session, text, on_event=events.append, **kwargs)
    return result, events


def head(agent, session):
    return agent.store.history("ann", session).session.head_id


def image(agent, session, node_id):
    return agent.store.node_image("ann", session, node_id)


def test_scripted_conversation(agent, session):
    store = agent.store
    root = head(agent, session)
    original = image(agent, session, root)

    blue, events = say(agent, session, "make the circle blue")
    assert blue.changed and blue.command.action == "edit" and blue.command.scope == "local"
    assert head(agent, session) == blue.node_id
    assert image(agent, session, blue.node_id) != original
    steps = [event["step"] for event in events if event["stage"] == "editing"]
    assert steps[-1] == agent.editor.defaults.steps  # the progress reached the last step
    assert {"interpreting", "checking", "saving"} <= {event["stage"] for event in events}
    metrics = blue.metrics
    assert {"drift_parent", "drift_original"} <= metrics.keys()

    stronger, _ = say(agent, session, "stronger")
    nodes = {node.id: node for node in store.history("ann", session).nodes}
    # A refinement is a sibling of the first attempt, not a child of it.
    assert nodes[stronger.node_id].parent_id == root
    assert nodes[stronger.node_id].params.text_scale > nodes[blue.node_id].params.text_scale

    # Undo walks the images shown: back to the first attempt, not to their shared parent.
    undo, _ = say(agent, session, "undo")
    assert not undo.changed and head(agent, session) == blue.node_id
    assert "step 1" in undo.reply
    redo, _ = say(agent, session, "redo")
    assert head(agent, session) == stronger.node_id and not redo.changed

    background, _ = say(agent, session, "make the background green")
    assert nodes[stronger.node_id].id == store.history("ann", session).nodes[
        [n.id for n in store.history("ann", session).nodes].index(background.node_id)
    ].parent_id

    back, _ = say(agent, session, "go back to the original")
    assert back.command.action == "reset" and head(agent, session) == root
    assert image(agent, session, head(agent, session)) == original  # byte-identical

    # Options are for the image shown now: after a revert to step 1, its instruction.
    say(agent, session, "go back to step 1")
    options, _ = say(agent, session, "show me options")
    assert options.options is not None and len(options.options.labels) == 9
    assert options.options.instruction == "make the circle blue"
    assert head(agent, session) == blue.node_id  # nothing is committed before the pick
    picked = choose_option(agent, options.options, 4)
    assert picked.changed and head(agent, session) == picked.node_id
    assert "'make the circle blue'" in picked.reply

    history = store.history("ann", session)
    parents = {node.id: node.parent_id for node in history.nodes}
    assert parents == {
        root: None,
        blue.node_id: root,
        stronger.node_id: root,
        background.node_id: stronger.node_id,
        picked.node_id: root,
    }
    assert image(agent, session, root) == original  # the upload is never touched
    transcript = store.messages("ann", session)
    said = [message.text for message in transcript if message.role == "user"]
    assert said == ["make the circle blue", "stronger", "undo", "redo",
                    "make the background green", "go back to the original",
                    "go back to step 1", "show me options"]
    assert [message.role for message in transcript[:2]] == ["user", "assistant"]
    assert "stronger" in transcript[1].text  # the reply says how to adjust


def test_again_keeps_the_scales_with_a_new_seed(agent, session):
    first, _ = say(agent, session, "make it brighter")
    again, _ = say(agent, session, "again")
    nodes = {node.id: node for node in agent.store.history("ann", session).nodes}
    a, b = nodes[first.node_id].params, nodes[again.node_id].params
    assert nodes[again.node_id].parent_id == nodes[first.node_id].parent_id
    assert (a.text_scale, a.image_scale) == (b.text_scale, b.image_scale) and a.seed != b.seed


def test_go_back_to_a_step_and_edit_from_there(agent, session):
    first, _ = say(agent, session, "make it brighter")
    say(agent, session, "make it darker")
    branch, _ = say(agent, session, "go back to step 1 and make it red")
    nodes = {node.id: node for node in agent.store.history("ann", session).nodes}
    assert nodes[branch.node_id].parent_id == first.node_id


def test_sliders_apply_a_refinement_with_their_scales(agent, session):
    first, _ = say(agent, session, "make it brighter")
    command = Command.clamped(action="refine", instruction="make it brighter",
                              text_scale=2.0, image_scale=1.2)
    applied, _ = say(agent, session, "(sliders)", command=command)
    node = next(n for n in agent.store.history("ann", session).nodes if n.id == applied.node_id)
    assert (node.params.text_scale, node.params.image_scale) == (2.0, 1.2)
    assert node.parent_id == agent.store.history("ann", session).session.root_id


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "nothing"),
        ("x" * 20_000, "long"),
        ("🎨🖼️✨", "nothing"),
        ("revert to step 999", "no step 999"),
        ("undo", "Nothing to undo"),
        ("stronger", "no edit"),
    ],
    ids=["empty", "20000-chars", "emoji", "step-999", "undo-at-root", "refine-first"],
)
def test_bad_turns_get_a_clear_reply_and_store_nothing(agent, session, text, words):
    result, _ = say(agent, session, text)
    assert words.lower() in result.reply.lower()
    assert not result.changed
    history = agent.store.history("ann", session)
    assert len(history.nodes) == 1 and history.session.head_id == history.session.root_id


def test_unknown_session_and_other_owner_are_refused(agent, session):
    with pytest.raises(NotFound):
        run_turn(agent, "no-such-session", "make it snowy")
    agent.owner = "bob"
    with pytest.raises(Forbidden):
        run_turn(agent, session, "make it snowy")


@pytest.mark.parametrize(
    "answer, reason",
    [("", "it was empty"), ('{"instruction": "make it snowy"}', "action: Field required")],
    ids=["empty-answer", "wrong-shape"],
)
def test_an_unusable_vlm_answer_falls_back_to_the_rules_and_says_why(
    agent, session, answer, reason
):
    from test_vlm import ScriptedVLM

    agent.interpreter = ScriptedVLM(answer)
    result, _ = say(agent, session, "could you make it brighter?")
    assert result.changed and result.command.instruction == "make it brighter"
    assert f"The VLM's answer was not usable: {reason}" in result.reply
    node = agent.store.history("ann", session).nodes[-1]
    assert node.params.instruction == "make it brighter"  # what the rules made of it


def test_every_way_out_of_an_options_turn(agent, session):
    first, _ = say(agent, session, "make it brighter")

    options, _ = say(agent, session, "show me options")
    picked = choose_option(agent, options.options, 0)
    assert picked.changed and head(agent, session) == picked.node_id

    options, _ = say(agent, session, "show me options")
    none = choose_option(agent, options.options, None)
    assert not none.changed and head(agent, session) == picked.node_id
    assert none.reply.startswith("Kept the image as it was")
    assert agent.store.messages("ann", session)[-1].text == none.reply

    options, _ = say(agent, session, "show me options")
    instead, _ = say(agent, session, "make it darker")  # a new message instead of a pick
    assert instead.changed and instead.command.instruction == "make it darker"
    nodes = {node.id: node for node in agent.store.history("ann", session).nodes}
    assert nodes[instead.node_id].parent_id == picked.node_id
    assert len(nodes) == 4  # original, brighter, the picked option, darker: no other option
    assert first.node_id in nodes


@pytest.mark.parametrize("size", [(4000, 100), (100, 4000)], ids=["wide", "tall"])
def test_the_thinnest_uploads_edit_and_keep_their_size(agent, size):
    banner = SCENE.resize(size)
    session = agent.store.create_session("ann", to_png_bytes(banner), "banner").id
    for text in ("make it darker", "make the circle blue"):  # global, and local with its check
        result, _ = say(agent, session, text)
        assert result.changed
        node = agent.store.history("ann", session).nodes[-1]
        assert (node.width, node.height) == size


class DriftingEditor:
    """An editor whose edit paints the negative over the whole picture (a drift) below s_I
    `steady`, and changes one corner pixel from it on; it records the s_I of every call."""

    def __init__(self, defaults, steady: float):
        self.defaults, self.model_id, self.device = defaults, "drifting", "cpu"
        self.steady, self.image_scales = steady, []

    def edit(self, request):
        self.image_scales.append(request.image_scale)
        image, mask = request.image.copy(), Image.new("L", request.image.size, 255)
        if request.image_scale < self.steady:
            image = Image.eval(image, lambda value: 255 - value)
        else:
            image.putpixel((0, 0), (0, 0, 0))
            mask = Image.new("L", image.size, 0)
            mask.putpixel((0, 0), 255)
        return EditResult(image, request.image, mask, self.model_id, None, "euler_ancestral", 1,
                          request.seed or 0, request.text_scale, request.image_scale,
                          *image.size, "cpu", "float32")


@pytest.mark.parametrize("steady, kept, words", [
    (2.5, 2.5, "It drifted too far at first, so I raised s_I to 2.5."),
    (9.0, 2.0, "It drifted; a retry with s_I 2.5 was no better, so I kept it."),
], ids=["retry-holds", "retry-drifts-too"])
def test_a_drifted_local_edit_is_retried_once_with_a_higher_image_scale(
    agent, session, steady, kept, words
):
    agent.editor = drifting = DriftingEditor(agent.editor.defaults, steady)

    result, _ = say(agent, session, "make the circle blue")  # local: s_I 2 on the demo scales

    assert drifting.image_scales == [2.0, 2.5]
    assert result.changed and result.metrics["retried"] and words in result.reply
    node = agent.store.history("ann", session).nodes[-1]
    assert node.params.image_scale == kept


def test_a_global_edit_is_never_retried(agent, session):
    agent.editor = drifting = DriftingEditor(agent.editor.defaults, steady=9.0)
    result, _ = say(agent, session, "make it winter")
    assert len(drifting.image_scales) == 1 and not result.metrics["retried"]


def test_stronger_and_again_apply_to_the_image_shown_after_a_revert(agent, session):
    blue, _ = say(agent, session, "make the circle blue")
    say(agent, session, "make the background green")
    say(agent, session, "go back to step 1")
    stronger, _ = say(agent, session, "stronger")
    again, _ = say(agent, session, "again")
    nodes = {node.id: node for node in agent.store.history("ann", session).nodes}
    for result in (stronger, again):
        assert result.command.instruction == "make the circle blue"
        assert nodes[result.node_id].parent_id == nodes[blue.node_id].parent_id


def test_undo_and_edit_in_one_message_edits_the_image_shown_before(agent, session):
    blue, _ = say(agent, session, "make the circle blue")
    say(agent, session, "make the background green")
    red, _ = say(agent, session, "undo that and make the square red")
    node = next(n for n in agent.store.history("ann", session).nodes if n.id == red.node_id)
    assert red.changed and node.parent_id == blue.node_id
    assert node.params.instruction == "make the square red"


def test_a_vague_message_asks_back_with_choices_and_changes_nothing(agent, session):
    say(agent, session, "make the circle blue")
    before = agent.store.history("ann", session)
    asked, _ = say(agent, session, "hmm, not quite")
    assert asked.command.action == "clarify" and "?" in asked.reply
    assert asked.choices == ("undo", "again", "show me options") and not asked.changed
    after = agent.store.history("ann", session)
    assert (len(after.nodes), after.session.head_id) == (len(before.nodes), before.session.head_id)


def test_replies_write_scales_with_at_most_two_decimals(agent, session):
    say(agent, session, "make it brighter")
    less, _ = say(agent, session, "a bit less")
    stored = next(n for n in agent.store.history("ann", session).nodes if n.id == less.node_id)
    assert re.search(r"\d\.\d{3}", less.reply) is None
    assert stored.params.text_scale == round(stored.params.text_scale, 2)
    assert f"Used s_T {stored.params.text_scale:g} " in less.reply
