"""What the session store hands out: frozen dataclasses, never ORM rows.

`to_json` turns any of them (or a list of them) into the stable JSON that `pixchat ...
--json` prints and that an export's `history.json` holds; memory/README.md describes it.
Formats only ever gain fields, and reading one (`read_archive_json`) ignores fields it
does not know, so an older pixchat can import a newer export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import pydantic_core
from pydantic import TypeAdapter

from .errors import NotFound

ARCHIVE_FORMAT = "pixchat-session"
ARCHIVE_VERSION = 1


@dataclass(frozen=True)
class EditParams:
    """How an image state was made: the chat turn and everything needed to reproduce it."""

    chat_text: str = ""
    instruction: str = ""
    text_scale: float | None = None
    image_scale: float | None = None
    seed: int | None = None
    steps: int | None = None
    scheduler: str | None = None
    model_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Any) -> EditParams:
        """The edit parameters held by a node row (anything with these attributes)."""
        return cls(**{param.name: getattr(row, param.name) for param in fields(cls)})


@dataclass(frozen=True)
class NodeInfo:
    """One image state in a session's tree."""

    id: int
    parent_id: int | None
    redo_child_id: int | None
    image_sha256: str
    width: int
    height: int
    created_at: datetime
    params: EditParams
    # The edit mask, a greyscale PNG of the image's size, white where the edit changed it;
    # None at the original and on nodes made before masks were kept.
    mask_sha256: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    id: str
    owner: str
    title: str
    created_at: datetime
    updated_at: datetime
    root_id: int
    head_id: int
    version: int
    node_count: int


@dataclass(frozen=True)
class MessageInfo:
    id: int
    role: str
    text: str
    node_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class NavigationResult:
    """Where the head is after undo/redo/revert/reset, whether it moved, and a reply line."""

    node: NodeInfo
    moved: bool
    message: str


@dataclass(frozen=True)
class History:
    """A session's whole tree: nodes in creation order (parents first) and the head path."""

    session: SessionInfo
    nodes: list[NodeInfo]
    head_path: list[int]

    @cached_property
    def children(self) -> dict[int, list[NodeInfo]]:
        """Each node's children, oldest first."""
        children: dict[int, list[NodeInfo]] = {node.id: [] for node in self.nodes}
        for node in self.nodes:
            if node.parent_id is not None:
                children[node.parent_id].append(node)
        return children

    def node_at_step(self, step: int) -> NodeInfo:
        """The node a person calls "step `step`": its place in creation order, 0 the original."""
        if not 0 <= step < len(self.nodes):
            raise NotFound(f"There is no step {step}; this session has steps "
                           f"0–{len(self.nodes) - 1} (0 is the original).")
        return self.nodes[step]

    def step_of(self, node_id: int) -> int:
        """The step number of a node of this session."""
        return next(step for step, node in enumerate(self.nodes) if node.id == node_id)


@dataclass(frozen=True)
class Archive:
    """The `history.json` of an exported session; every image and mask is
    `images/<sha256>.png`."""

    format: Literal["pixchat-session"]
    version: Literal[1]
    history: History
    messages: list[MessageInfo]


def to_json(value: Any) -> str:
    """A record, or a list of records, as indented JSON (times in ISO 8601, UTC)."""
    return pydantic_core.to_json(value, indent=2).decode()


def read_archive_json(data: bytes) -> Archive:
    """Parse and check an archive's history.json; raises pydantic.ValidationError."""
    return _ARCHIVE.validate_json(data)


_ARCHIVE = TypeAdapter(Archive)
