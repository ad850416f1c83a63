"""A whole conversation through the turn graph: the tree, the head, the images, the transcript.

The editor is the embedded demo model, on a scene of its own world.
"""

import pytest

from agent.command import Command
from agent.interpret import load_interpreter
from agent.turn import Agent, choose_option, run_turn
from editor import load_editor
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

    undo, _ = say(agent, session, "undo")
    assert not undo.changed and head(agent, session) == root
    redo, _ = say(agent, session, "redo")
    assert head(agent, session) == stronger.node_id and not redo.changed

    background, _ = say(agent, session, "make the background green")
    assert nodes[stronger.node_id].id == store.history("ann", session).nodes[
        [n.id for n in store.history("ann", session).nodes].index(background.node_id)
    ].parent_id

    back, _ = say(agent, session, "go back to the original")
    assert back.command.action == "reset" and head(agent, session) == root
    assert image(agent, session, head(agent, session)) == original  # byte-identical

    options, _ = say(agent, session, "show me options")
    assert options.options is not None and len(options.options.labels) == 9
    assert head(agent, session) == root  # nothing is committed before the pick
    picked = choose_option(agent, options.options, 4)
    assert picked.changed and head(agent, session) == picked.node_id

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
                    "make the background green", "go back to the original", "show me options"]
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
