"""The session store of pixchat: every image state of every chat session, kept safely."""

from .errors import Busy, Forbidden, InvalidArchive, NotFound, StoreError
from .records import (
    EditParams,
    History,
    MessageInfo,
    NavigationResult,
    NodeInfo,
    SessionInfo,
    to_json,
)
from .store import SessionStore

__all__ = [
    "Busy",
    "EditParams",
    "Forbidden",
    "History",
    "InvalidArchive",
    "MessageInfo",
    "NavigationResult",
    "NodeInfo",
    "NotFound",
    "SessionInfo",
    "SessionStore",
    "StoreError",
    "to_json",
]
