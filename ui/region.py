"""The region uploader: a mask whose white part is all the next edits may change.

The upload stays until the person removes it, so every edit of the open session (a chat
message, Apply, Show options) is limited to it; `current` reads it for the turn.
"""

from __future__ import annotations

import streamlit as st
from PIL import Image

from agent.errors import USER_ERRORS
from editor.images import load_image, to_png_bytes
from memory import NodeInfo

from .actions import UPLOAD_TYPES
from .pictures import picture, region_overlay

LABEL = "Limit the edit to a region: a PNG, white = may change"


def show(session_id: str, head: NodeInfo, head_png: bytes) -> None:
    """The uploader; under it, the current image with the region marked, or one sentence
    saying why the uploaded file cannot be a region."""
    upload = st.file_uploader(
        LABEL, type=UPLOAD_TYPES, key=_key(session_id),
        help="Black parts of the mask keep their pixels exactly; remove the file to edit "
             "the whole image again.")
    if upload is None:
        return
    try:
        region = _fit(current(session_id), (head.width, head.height))
    except USER_ERRORS as error:
        st.error(f"{upload.name} cannot limit the edit: {error}")
        return
    picture(region_overlay(head_png, to_png_bytes(region)), width=160,
            caption="The next edits may change only the tinted part.")


def current(session_id: str) -> Image.Image | None:
    """The session's uploaded region as a greyscale image (white = may change), or None."""
    upload = st.session_state.get(_key(session_id))
    return None if upload is None else load_image(upload.getvalue()).convert("L")


def _fit(region: Image.Image, size: tuple[int, int]) -> Image.Image:
    return region.resize(size, Image.Resampling.BILINEAR)


def _key(session_id: str) -> str:
    return f"region_{session_id}"
