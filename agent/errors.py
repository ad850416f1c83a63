"""Errors a person using the agent can cause; each message is one sentence saying what to do."""


class AgentError(Exception):
    """Base of every agent error; `str(error)` is meant to be shown to the person as is."""


class InterpreterError(AgentError):
    """An interpreter name that is not known, or a VLM checkpoint that cannot be loaded."""
