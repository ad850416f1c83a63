"""A session's edit tree laid out for reading, one row per image state; the command line's
`pixchat history` and the app's history column both draw it.

    0  original 512×512
    1  'make it winter'
    ├─ 2  'more snow'          2 and 3 are siblings: two edits of step 1
    └─ 3  'add a hat'
       4  'make it night'      4 is a child of 3: a chain stays in its column
"""

from __future__ import annotations

from dataclasses import dataclass

from memory import History, NodeInfo


@dataclass(frozen=True)
class TreeRow:
    step: int  # the node's place in creation order; 0 is the original ("go back to step 3")
    node: NodeInfo
    branch: str  # the tree drawn before the step: "", "├─ ", "│  └─ ", ...


def tree_rows(history: History) -> list[TreeRow]:
    """Every node in tree order (depth first, older siblings first)."""
    steps = {node.id: step for step, node in enumerate(history.nodes)}
    rows = []
    stack = [(history.nodes[0], "", "")]  # node, branch of its row, indent of its children
    while stack:
        node, branch, child_indent = stack.pop()
        rows.append(TreeRow(steps[node.id], node, branch))
        children = history.children[node.id]
        if len(children) == 1:
            stack.append((children[0], child_indent, child_indent))
            continue
        for position, child in reversed(list(enumerate(children))):
            last = position == len(children) - 1
            stack.append((child, child_indent + ("└─ " if last else "├─ "),
                          child_indent + ("   " if last else "│  ")))
    return rows
