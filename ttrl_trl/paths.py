"""Telling a local path from a Hub id, so a mistyped folder fails at once instead of after Hub retries.

``from_pretrained`` treats anything that is not an existing folder as a Hub id: a typo in
``outputs/my-run`` costs a minute of network retries and ends in an error about connections or
repo-id syntax. Every command that takes a model folder or a file checks it here first.
"""

from __future__ import annotations

from pathlib import Path

LOCAL_ROOTS = ("outputs",)
"""Folders this project writes into (``outputs/...``): a value under one of them is a path, not a Hub id."""


def looks_local(value: str) -> bool:
    """Whether ``value`` can only mean a path: it starts with ``.``, ``/`` or ``~``, has a backslash or
    more than one ``/`` (a Hub id is ``owner/name``), starts with ``outputs/``, or its parent folder
    exists here."""
    if value.startswith((".", "/", "~")) or "\\" in value or value.count("/") > 1:
        return True
    parent = Path(value).expanduser().parent
    if str(parent) in ("", "."):
        return False
    return parent.parts[0] in LOCAL_ROOTS or parent.is_dir()


def missing_path_error(value: str | None, field: str, expected: str) -> str | None:
    """The one-line error for a local-looking ``value`` that does not exist, else None.

    ``field`` is the option's name as the user typed it; ``expected`` says what should be there.
    """
    if value is None or not looks_local(value) or Path(value).expanduser().exists():
        return None
    return f"{field} {value!r} does not exist; pass {expected}."
