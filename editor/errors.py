"""Errors a person using the editor can cause; each message is one sentence saying what to do."""


class EditorError(Exception):
    """Base of every editor error; `str(error)` is meant to be shown to the person as is."""


class ModelNotFound(EditorError):
    """The model could not be found locally, in the Hugging Face cache, or on the Hub."""


class Cancelled(EditorError):
    """The progress callback asked to stop; nothing was produced."""
