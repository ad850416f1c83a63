"""What can go wrong in the session store, each with a message meant for the person."""


class StoreError(Exception):
    """Base of every session-store error; the message is one sentence that says what to do."""


class NotFound(StoreError):
    """An unknown session, node or image."""


class Forbidden(StoreError):
    """A session that belongs to another owner."""


class Busy(StoreError):
    """The database stayed locked by another program, or changed underneath an update."""


class InvalidArchive(StoreError):
    """A file given to import that is not an intact pixchat export."""
