"""Scales as people write them: at most two decimals.

Kept apart from `agent.command` (pydantic) so the commands that only read sessions can
print them without loading it.
"""


def scale_text(value: float) -> str:
    """A scale as people write it, with at most two decimals: 7.5, 1.28, 2."""
    return f"{value:.2f}".rstrip("0").rstrip(".")
