"""Errors a person using the agent can cause; each message is one sentence saying what to do.

`USER_ERRORS` are all the errors, from every part, that the command line and the app show
as one sentence instead of a traceback.
"""

from editor.errors import EditorError
from editor.images import ImageError
from memory.errors import StoreError


class AgentError(Exception):
    """Base of every agent error; `str(error)` is meant to be shown to the person as is."""


class InterpreterError(AgentError):
    """An interpreter name that is not known, or a VLM checkpoint that cannot be loaded."""


USER_ERRORS = (StoreError, ImageError, EditorError, AgentError)
