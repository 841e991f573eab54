"""One wording for an unknown option, with the closest known one, for every command line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def unknown_option_message(strings: Sequence[str], known: Iterable[str], source: str, help_command: str) -> str:
    """``unknown field 'x' in <source> (did you mean 'y'?); `<help_command>` lists the options.``

    ``strings`` are the leftovers of a parser (``["--lerning_rate", "3"]``); the first option among
    them is named.
    """
    names = [s.removeprefix("--").split("=")[0] for s in strings if s.startswith("--")] or list(strings)
    name = names[0]
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field {name!r} in {source}{hint}; `{help_command}` lists the options."
