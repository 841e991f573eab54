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


def offline_hub_error(value: str | None, field: str) -> str | None:
    """The one-line error for a Hub id that cannot load, else None: the Hub is switched off
    (``HF_HUB_OFFLINE``) and the id is not in the local cache.

    Without it the dataset loads first and ``from_pretrained`` then fails with a 50-line OSError.
    """
    if value is None or looks_local(value) or Path(value).expanduser().exists():
        return None
    from huggingface_hub import constants, try_to_load_from_cache

    if not constants.HF_HUB_OFFLINE:
        return None
    try:
        cached = [try_to_load_from_cache(value, name) for name in ("config.json", "adapter_config.json")]
    except ValueError:  # not a valid repo id: from_pretrained could not load it either
        cached = []
    if any(isinstance(path, str) for path in cached):
        return None
    return (
        f"{field} {value!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set, so it cannot be "
        f"downloaded: fetch it once with network access (`hf download {value}`), or pass a local model folder."
    )
