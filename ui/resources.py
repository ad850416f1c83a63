"""The editor model, the interpreter and the session store, opened once per process.

Loading a model takes seconds to minutes, so `st.cache_resource` keeps one of each for every
visitor. Each browser tab gets its own `Agent` over them (in `st.session_state`): it carries
the tab's settings and keeps an options grid waiting between reruns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from agent.interpret import Interpreter, load_interpreter
from agent.setup import open_editor, open_objects
from agent.turn import Agent
from editor import Editor
from memory import SessionStore

from .config import AppConfig

if TYPE_CHECKING:
    from editor.grounding import GroundedInpaintEditor


@st.cache_resource(show_spinner="Loading the editor model…")
def shared_editor(model: str, url: str | None = None) -> tuple[Editor, tuple[str, ...]]:
    """The editor model (the demo model when `model` is missing), or the editor service at
    `url`, and the warnings on the way."""
    warnings: list[str] = []
    return open_editor(model, warnings.append, url=url), tuple(warnings)


@st.cache_resource(show_spinner="Loading the object finder and inpainter…")
def shared_objects(name: str | None) -> tuple[GroundedInpaintEditor | None, tuple[str, ...]]:
    """The grounded model for object edits (None when none is configured or it is missing),
    and the warnings on the way."""
    warnings: list[str] = []
    return open_objects(name, warnings.append), tuple(warnings)


@st.cache_resource(show_spinner="Loading the interpreter…")
def shared_interpreter(spec: str, model: str, url: str | None = None) -> Interpreter:
    """The interpreter `spec`, suggesting scales for the editor `model` (or at `url`)."""
    editor, _ = shared_editor(model, url)
    return load_interpreter(spec, editor.defaults)


@st.cache_resource
def shared_store(url: str | None, data: str | None) -> SessionStore:
    return SessionStore(url, data)


def tab_agent(config: AppConfig, owner: str) -> tuple[Agent, tuple[str, ...]]:
    """This browser tab's `Agent` for `owner`, and the warnings from loading its models."""
    editor, warnings = shared_editor(config.model, config.editor_url)
    objects, object_warnings = shared_objects(config.objects)
    agent = st.session_state.get("agent")
    if agent is None or agent.owner != owner:  # a new tab, or another person logged in
        st.session_state.agent = Agent(
            store=shared_store(config.db, config.data),
            editor=editor,
            interpreter=shared_interpreter(config.interpreter, config.model, config.editor_url),
            owner=owner,
            objects=objects,
        )
    return st.session_state.agent, warnings + object_warnings
