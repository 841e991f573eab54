"""The evaluation's error type and its one-line check: a leaf module, so every other module may refuse input."""

from __future__ import annotations


class EvalConfigError(ValueError):
    """A setting that cannot work; the message names the field and the fix."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`EvalConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise EvalConfigError(message)
