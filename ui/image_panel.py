"""The image column: the current image (or a before/after pair) with "Show what changed",
the two scale sliders, Apply, Undo, Redo, the region uploader, Show options with its grid,
and Download."""

from __future__ import annotations

import re
from collections.abc import Callable

import streamlit as st

from agent.command import Command, navigation
from agent.turn import Agent, option_label
from memory import History, NodeInfo

from . import region
from .actions import (
    apply_command,
    describe,
    options_command,
)
from .chat import PendingChoice, PendingTurn, queue
from .pictures import picture, region_overlay

COMPARE_MODES = ("Now", "Before ↔ after", "Original ↔ now")
NO_IMAGE_GUIDANCE = ("This model has one guidance scale, s_T (how big a change), and no "
                     "\"how close to the original\" slider: it keeps a local edit to its mask.")


def show(agent: Agent, history: History) -> None:
    head = next(node for node in history.nodes if node.id == history.session.head_id)
    step = history.nodes.index(head)
    _images(agent, history, head, step)
    _sliders(agent, head)
    _buttons(head)
    region.show(history, _png(agent, history, head.id))
    _options(history.session.id)
    st.download_button(
        "Download PNG", _png(agent, history, head.id),
        file_name=f"{_file_stem(history.session.title)}-step{step}.png", mime="image/png",
        key="download", help=f"The image at its full size, {head.width}×{head.height}.",
    )


def _images(agent: Agent, history: History, head: NodeInfo, step: int) -> None:
    is_edit = head.parent_id is not None
    mask = agent.store.node_mask(agent.owner, history.session.id, head.id)
    with st.container(horizontal=True, vertical_alignment="center"):
        mode = st.radio("Compare", COMPARE_MODES, horizontal=True, key="compare",
                        label_visibility="collapsed", disabled=not is_edit)
        show_changes = st.toggle("Show what changed", key="show_changes", disabled=mask is None,
                                 help="Tint the region this step's edit changed; dim the rest.")
    if mask is None:
        st.caption(_no_mask_reason(head))
    now_png, marked = _png(agent, history, head.id), ""
    if show_changes and mask is not None:
        now_png, marked = region_overlay(now_png, mask), " (what changed is tinted)"
    before_id = None
    if is_edit and mode != "Now":
        before_id = head.parent_id if mode == "Before ↔ after" else history.session.root_id
    with st.container(key="current_image"):
        if before_id is None:
            picture(now_png, caption=f"Step {step}: {describe(head)}{marked}")
            return
        before = next(node for node in history.nodes if node.id == before_id)
        left, right = st.columns(2)
        with left:
            picture(_png(agent, history, before.id),
                    caption=f"Before — step {history.nodes.index(before)}: {describe(before)}")
        with right:
            picture(now_png, caption=f"Now — step {step}: {describe(head)}{marked}")


def _no_mask_reason(head: NodeInfo) -> str:
    """Why "Show what changed" is off for a step that has no edit mask."""
    if head.parent_id is None:
        return "The original image has no changes to show."
    return "This step has no record of what changed: it was made before pixchat kept edit masks."


def _png(agent: Agent, history: History, node_id: int) -> bytes:
    return agent.store.node_image(agent.owner, history.session.id, node_id)


def _sliders(agent: Agent, head: NodeInfo) -> None:
    """The two scales, pre-set to the head's (the model's defaults at the original); s_T
    alone, and a sentence saying why, for a model without image guidance."""
    params, defaults, limits = head.params, agent.editor.defaults, agent.limits
    is_edit = head.parent_id is not None
    st.slider(
        "How big a change", *limits.text_scale, step=0.1, key=f"text_scale_{head.id}",
        value=params.text_scale if is_edit and params.text_scale is not None
        else defaults.text_scale, disabled=not is_edit,
        help="s_T, the text guidance: how strongly the instruction is followed.",
    )
    if not defaults.image_guidance:
        st.caption(NO_IMAGE_GUIDANCE)
        return
    st.slider(
        "How close to the original", *limits.image_scale, step=0.05,
        key=f"image_scale_{head.id}", disabled=not is_edit,
        value=params.image_scale if is_edit and params.image_scale is not None
        else defaults.image_scale,
        help="s_I, the image guidance: how much of the image before the edit is kept.",
    )


def _buttons(head: NodeInfo) -> None:
    """Apply and Show options work on the head's own edit, so the original has neither."""
    is_edit = head.parent_id is not None
    with st.container(horizontal=True):
        st.button("Apply", key="apply", type="primary", disabled=not is_edit,
                  help="Re-run the last instruction with the sliders' scales.",
                  on_click=_queue_with_sliders, args=(head, "apply", apply_command))
        st.button("Undo", key="undo", disabled=not is_edit, on_click=queue,
                  args=(PendingTurn("undo", navigation("undo")),))
        st.button("Redo", key="redo", disabled=head.redo_child_id is None, on_click=queue,
                  args=(PendingTurn("redo", navigation("redo")),))
        st.button("Show options", key="show_options", disabled=not is_edit,
                  help="The last instruction at nine pairs of scales around the sliders'.",
                  on_click=_queue_with_sliders,
                  args=(head, "show me options around", options_command))


def _queue_with_sliders(head: NodeInfo, verb: str, command: Callable[..., Command]) -> None:
    """Queue `command(head, s_T, s_I)` with the sliders' values at the moment of the click."""
    text_scale = st.session_state[f"text_scale_{head.id}"]
    image_scale = st.session_state.get(f"image_scale_{head.id}")  # None: no such slider
    queue(PendingTurn(f"{verb} {option_label(text_scale, image_scale).replace(' ·', ',')}",
                      command(head, text_scale, image_scale)))


def _options(session_id: str) -> None:
    """The waiting options grid: the labelled sheet and a "Use this" button per cell."""
    waiting = st.session_state.get("options")
    if waiting is None or waiting["session_id"] != session_id:
        return
    pending = waiting["pending"]
    columns = "columns s_I (how close to the original)" if " · " in pending.labels[0] \
        else "one column: this model has no s_I"
    st.image(pending.sheet, output_format="PNG", width="stretch",
             caption=f"Options for '{pending.instruction}': rows s_T (how big a change), "
             f"{columns}")
    columns = st.columns(3)
    for index, label in enumerate(pending.labels):
        with columns[index % 3]:  # the label is the button's own text, at full size
            st.button(f"Use {label}", key=f"use_option_{index}", help=label, width="stretch",
                      on_click=queue, args=(PendingChoice(index),))
    st.button("None of these", key="dismiss_options", on_click=queue, args=(PendingChoice(None),))


def _file_stem(title: str) -> str:
    return re.sub(r"[^\w-]+", "-", title).strip("-") or "pixchat"
