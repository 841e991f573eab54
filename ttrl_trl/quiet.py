"""Warnings we know about and cannot fix, filtered in one place by every entry point.

Only exact messages are filtered, never a whole category: a new deprecation must still show.
"""

from __future__ import annotations

import re
import warnings

KNOWN_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # TRL 1.16 calls transformers 5's deprecated `is_gradient_checkpointing` on every step of every run
    # (TRL's code, not ours, and not news to a user).
    ("`is_gradient_checkpointing` is deprecated", FutureWarning),
)


def ignore_known_warnings() -> None:
    """Filter exactly the :data:`KNOWN_WARNINGS` (by the start of their message and their category)."""
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)
