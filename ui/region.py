"""The region uploader: a mask whose white part is all the next edits may change.

The upload stays until the person removes it, so every edit of the open session (a chat
message, Apply, Show options) is limited to it; `current` reads it for the turn.
"""

from __future__ import annotations

import streamlit as st
from PIL import Image

from agent.errors import USER_ERRORS
from agent.setup import read_region
from editor.images import to_png_bytes
from memory import History

from .actions import UPLOAD_TYPES
from .pictures import picture, region_overlay

LABEL = "Limit the edit to a region: a PNG, white = may change"


def show(history: History, head_png: bytes) -> None:
    """The uploader; under it, the current image with the region marked as the editor will
    read it, or one sentence saying why the file cannot be used."""
    upload = st.file_uploader(
        LABEL, type=UPLOAD_TYPES, key=_key(history.session.id),
        help="Black parts of the mask keep their pixels exactly; remove the file to edit "
             "the whole image again.")
    if upload is None:
        return
    try:
        region = current(history)
    except USER_ERRORS as error:
        st.error(f"{upload.name} cannot limit the edit: {error}")
        return
    if region is None:
        return
    picture(region_overlay(head_png, to_png_bytes(region)), width=160,
            caption="The next edits may change only the tinted part.")


def current(history: History) -> Image.Image | None:
    """The open session's uploaded region fitted to its images (white = may change), or None;
    raises `ImageError` or `EditorError` with one sentence when it cannot be used."""
    upload = st.session_state.get(_key(history.session.id))
    if upload is None:
        return None
    original = history.nodes[0]  # every image of a session has the original's size
    return read_region(upload.getvalue(), (original.width, original.height))


def _key(session_id: str) -> str:
    return f"region_{session_id}"
