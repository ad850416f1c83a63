"""The chat column: the transcript, the chat input, and running a turn with progress.

Every action (a chat message, a button, a history row, an option picked) becomes a
`PendingTurn` or `PendingChoice` in `st.session_state.pending`; `show` runs it at the end
of the transcript, where its progress is drawn, then reruns the page to show the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.elements.lib.mutable_status_container import StatusContainer

from agent.command import Command
from agent.errors import USER_ERRORS
from agent.repertoire import example_instruction
from agent.turn import Agent, choose_option, run_turn
from editor.images import load_image
from memory import History

from . import region
from .pictures import picture

STAGES = {
    "interpreting": "Reading what you asked…",
    "editing": "Editing the image…",
    "checking": "Checking the result…",
    "saving": "Saving…",
}


@dataclass(frozen=True)
class PendingTurn:
    text: str  # what the transcript shows
    command: Command | None = None  # None: the interpreter reads `text`


@dataclass(frozen=True)
class PendingChoice:
    index: int | None  # the option to keep (0-based); None keeps none


def queue(request: PendingTurn | PendingChoice) -> None:
    """Ask for `request` to run on this rerun (a widget callback)."""
    st.session_state.pending = request


def show(agent: Agent, history: History) -> None:
    messages = st.container(height=560, key="transcript")
    with messages:
        _transcript(agent, history)
    session = history.session
    head = load_image(agent.store.node_image(agent.owner, session.id, session.head_id))
    text = st.chat_input(f"Say what to change, e.g. “{example_instruction(agent.editor, head)}”",
                         key="chat", submit_mode="disable")  # one turn at a time
    request = PendingTurn(text) if text else st.session_state.pop("pending", None)
    if request is not None:
        with messages:
            _run(agent, history, request)
        st.rerun()


def _transcript(agent: Agent, history: History) -> None:
    session_id = history.session.id
    shown_node = history.session.root_id
    for message in agent.store.messages(agent.owner, session_id):
        with st.chat_message(message.role):
            st.markdown(message.text)
            if message.role == "assistant" and message.node_id not in (None, shown_node):
                png = agent.store.node_image(agent.owner, session_id, message.node_id)
                picture(png, width=160)
                shown_node = message.node_id
    waiting = st.session_state.get("options")
    if waiting is not None and waiting["session_id"] == session_id:
        st.chat_message("assistant").markdown(
            "Pick one of the options under the image with its **Use** button, or "
            "**None of these**.")
    asked = st.session_state.get("choices")
    if asked is not None and asked["session_id"] == session_id:
        with st.container(horizontal=True):  # the answers to the question just asked
            for index, choice in enumerate(asked["choices"]):
                st.button(choice, key=f"choice_{index}", on_click=queue,
                          args=(PendingTurn(choice),))
    if not history.nodes[1:]:
        st.caption("Say what to change in the box below; undo, redo and history are always "
                   "there, nothing is ever lost.")


def _run(agent: Agent, history: History, request: PendingTurn | PendingChoice) -> None:
    """Run `request`, an edit limited to the uploaded region if there is one; a failure is
    kept in `st.session_state.error` for the next page."""
    session_id = history.session.id
    waiting = st.session_state.pop("options", None)
    st.session_state.pop("choices", None)  # any answer, or another message, ends a question
    if isinstance(request, PendingChoice) and waiting is None:
        return  # a second click on an option already taken
    with st.chat_message("user"):
        st.markdown(request.text if isinstance(request, PendingTurn) else _choice_text(request))
    with st.chat_message("assistant"):
        status = st.status(STAGES["interpreting"])
        progress = Progress(status, st.empty())
        try:
            if isinstance(request, PendingChoice):
                result = choose_option(agent, waiting["pending"], request.index, progress)
            else:
                if waiting is not None:  # a new turn: the grid is no longer wanted
                    choose_option(agent, waiting["pending"], None)
                result = run_turn(agent, session_id, request.text, progress, request.command,
                                  region=region.current(history))
        except USER_ERRORS as error:
            st.session_state.error = str(error)
            status.update(label="That did not work.", state="error")
            return
        status.update(label="Done.", state="complete")
    if result.options is not None:
        st.session_state.options = {"session_id": session_id, "pending": result.options}
    if result.choices:
        st.session_state.choices = {"session_id": session_id, "choices": result.choices}


def _choice_text(choice: PendingChoice) -> str:
    return "None of these." if choice.index is None else f"Use option {choice.index + 1}."


class Progress:
    """Shows each stage of a turn as the status line, and a bar over the denoising steps."""

    def __init__(self, status: StatusContainer, bar: DeltaGenerator) -> None:
        self.status = status
        self.bar = bar  # an `st.empty()` slot, filled once the editor starts

    def __call__(self, event: dict[str, Any]) -> None:
        self.status.update(label=STAGES.get(event["stage"], event["stage"]))
        if "step" in event:
            step, total = event["step"], event["total"]
            self.bar.progress(step / total, text=f"Denoising step {step} of {total}")
