"""The pixchat page: sessions in the sidebar; chat, image and history side by side.

What a browser tab keeps in `st.session_state`:
    agent          its `Agent` (ui/resources.py)
    session_id     the open session (the sidebar's selectbox)
    pending        the action to run on this rerun (ui/chat.py)
    options        an options grid waiting for a pick: {"session_id", "pending"}
    choices        the answers offered by a question the agent asked: {"session_id", "choices"}
    error          one sentence to show once, from the last action
    confirm_delete the session whose deletion waits for confirmation
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import streamlit as st

from agent.errors import USER_ERRORS
from agent.turn import Agent

from . import chat, history_panel, image_panel, sidebar
from .config import AppConfig, read_config
from .login import LoginMissing, check_login_setting, current_owner
from .resources import tab_agent


def main(argv: Sequence[str] | None = None) -> None:
    """Draw the page; `argv` are the options after `--` (default: `sys.argv[1:]`)."""
    st.set_page_config(page_title="pixchat", page_icon="🖼️", layout="wide")
    config = read_config(sys.argv[1:] if argv is None else argv)
    try:
        check_login_setting(config.login, config.serve_many)
    except LoginMissing as error:
        st.error(str(error))
        return
    owner = current_owner(config)
    if owner is None:
        return
    try:
        agent, warnings = tab_agent(config, owner)
    except USER_ERRORS as error:
        st.error(str(error))
        return
    for warning in warnings:
        st.warning(warning)
    try:
        _page(agent, config)
    except USER_ERRORS as error:  # e.g. the database is busy: the next click tries again
        st.error(str(error))


def _page(agent: Agent, config: AppConfig) -> None:
    session = sidebar.show(agent, config)
    st.title("pixchat")
    if message := st.session_state.pop("error", None):
        st.error(message)
    if session is None:
        st.info("Upload an image in the sidebar to start a session"
                + (", or try a sample scene or photo." if agent.editor.model_id == "demo" else "."))
        return
    history = agent.store.history(agent.owner, session.id)
    chat_column, image_column, history_column = st.columns([5, 4, 3], gap="large")
    with image_column:
        image_panel.show(agent, history)
    with history_column:
        history_panel.show(agent, history)
    with chat_column:
        chat.show(agent, history)
