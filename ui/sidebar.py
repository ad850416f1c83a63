"""The sidebar: sessions (new from an upload or a sample, open, rename, delete), the model
in use, and the settings every edit uses."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from agent.errors import USER_ERRORS
from agent.setup import read_upload
from agent.turn import Agent
from editor import SCHEDULERS
from memory import SessionInfo

from .actions import UPLOAD_TYPES, sample_photo, sample_scene
from .config import AppConfig

DEMO_NOTE = (
    "Running on the **embedded demo models**, two miniature editors that need no download: "
    "one changes the colours and light of a photo (black and white, sepia, warmer, cooler, "
    "brighter, darker, contrast, saturation, a colour tint, night, golden hour, faded, "
    "invert), the other edits flat scenes of shapes. For any other edit, start the app with a "
    "real checkpoint: `streamlit run streamlit_app.py -- --model ip2p` (or set "
    "`PIXCHAT_MODEL`)."
)


def show(agent: Agent, config: AppConfig) -> SessionInfo | None:
    """Draw the sidebar and return the open session (None when there is none yet)."""
    with st.sidebar:
        st.header("Sessions")
        st.file_uploader("New session from an image", type=UPLOAD_TYPES, key="upload",
                         on_change=_start_from_upload, args=(agent,))
        if agent.editor.model_id == "demo":
            scene, photo = st.columns(2)
            scene.button("Try a sample scene", key="sample", on_click=_start_from_sample,
                         args=(agent, sample_scene))
            photo.button("Try a sample photo", key="sample_photo", on_click=_start_from_sample,
                         args=(agent, sample_photo))
        session = _sessions(agent)
        st.divider()
        _model(agent, config)
        _settings(agent)
    return session


def _sessions(agent: Agent) -> SessionInfo | None:
    sessions = {session.id: session for session in agent.store.list_sessions(agent.owner)}
    if not sessions:
        st.caption("No sessions yet.")
        return None
    if st.session_state.get("session_id") not in sessions:
        st.session_state.session_id = next(iter(sessions))  # the most recently changed
    session_id = st.selectbox(
        "Open a session", list(sessions), key="session_id",
        format_func=lambda key: f"{sessions[key].title} · {sessions[key].created_at:%b %d %H:%M}",
    )
    session = sessions[session_id]
    st.text_input("Title", value=session.title, key=f"title_{session.id}",
                  on_change=_rename, args=(agent, session.id))
    if st.session_state.get("confirm_delete") != session.id:
        st.button("Delete session…", key="delete", on_click=_set_confirm, args=(session.id,))
    else:
        st.warning(f"Delete '{session.title}' and its {session.node_count} images? "
                   "This cannot be undone.")
        yes, no = st.columns(2)
        yes.button("Yes, delete", key="delete_yes", type="primary", on_click=_delete,
                   args=(agent, session.id))
        no.button("Cancel", key="delete_no", on_click=_set_confirm, args=(None,))
    return session


def _model(agent: Agent, config: AppConfig) -> None:
    device = str(agent.editor.device).split(":")[0]
    device = "GPU" if device == "cuda" else device.upper()
    where = f" on the editor service at {config.editor_url}" if config.editor_url else ""
    st.caption(f"Editor model: **{agent.editor.model_id}** · interpreter: "
               f"**{config.interpreter}** · device: **{device}**{where}")
    if agent.editor.model_id == "demo":
        st.info(DEMO_NOTE)


def _settings(agent: Agent) -> None:
    """Read the settings into this tab's agent; the next edit uses them."""
    with st.expander("Settings"):
        agent.steps = st.number_input("Denoising steps", min_value=1, max_value=150,
                                      value=agent.editor.defaults.steps, key="steps")
        fixed = st.toggle("Fixed seed", key="fixed_seed",
                          help="The same seed every time, to compare scales fairly.")
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="seed",
                               disabled=not fixed)
        agent.seed = seed if fixed else None
        own = agent.editor.defaults.scheduler
        if own not in SCHEDULERS:  # Kontext and Qwen sample with their own scheduler
            st.caption(f"Scheduler: {own}, the model's own.")
            return
        # None: each edit samples as its model recommends (the embedded pair differ).
        agent.scheduler = st.selectbox("Scheduler", [None, *SCHEDULERS], key="scheduler",
                                       format_func=lambda name: name or "the model's own")


# --- callbacks: they run before the page is drawn ------------------------------------


def _start_from_upload(agent: Agent) -> None:
    upload = st.session_state.upload
    if upload is None:
        return
    try:
        png = read_upload(upload.getvalue())
        session = agent.store.create_session(agent.owner, png, Path(upload.name).stem)
    except USER_ERRORS as error:
        message = str(error)  # it speaks of "the upload": say which one
        st.session_state.error = f"{upload.name} could not be used: {message}"
        return
    st.session_state.session_id = session.id


def _start_from_sample(agent: Agent, sample) -> None:
    title, png = sample()
    st.session_state.session_id = agent.store.create_session(agent.owner, png, title).id


def _rename(agent: Agent, session_id: str) -> None:
    try:
        agent.store.rename(agent.owner, session_id, st.session_state[f"title_{session_id}"])
    except USER_ERRORS as error:
        st.session_state.error = str(error)


def _set_confirm(session_id: str | None) -> None:
    st.session_state.confirm_delete = session_id


def _delete(agent: Agent, session_id: str) -> None:
    st.session_state.confirm_delete = None
    if (st.session_state.get("options") or {}).get("session_id") == session_id:
        del st.session_state.options
    try:
        agent.store.delete_session(agent.owner, session_id)
    except USER_ERRORS as error:
        st.session_state.error = str(error)
