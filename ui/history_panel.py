"""The history column: every image state as a thumbnail with its instruction and scales,
drawn as a tree (siblings under ├─ and └─, a chain of edits in one column), the current one
marked; "Go here" reverts to a state."""

from __future__ import annotations

import streamlit as st

from agent.command import navigation
from agent.history_tree import tree_rows
from agent.turn import Agent
from memory import History

from .actions import describe
from .chat import PendingTurn, queue
from .pictures import picture

NO_BREAK_SPACE = "\u00a0"


def show(agent: Agent, history: History) -> None:
    st.subheader("History")
    head_id = history.session.head_id
    for row in tree_rows(history):
        is_head = row.node.id == head_id
        with st.container(key=f"history_step_{row.step}", border=is_head):
            thumbnail, text = st.columns([1, 3], vertical_alignment="center")
            with thumbnail:
                picture(agent.store.node_image(agent.owner, history.session.id, row.node.id),
                        width=56)
            # In a fixed-width font, with spaces that do not collapse, so the tree lines up.
            branch = f"`{row.branch.replace(' ', NO_BREAK_SPACE)}`" if row.branch else ""
            text.markdown(f"{branch}**{row.step}** · {describe(row.node)}")
            if is_head:
                text.caption("● current image")
            else:
                text.button("Go here", key=f"revert_{row.step}", on_click=queue,
                            args=(PendingTurn(f"go back to step {row.step}",
                                              navigation("revert", row.step)),))
