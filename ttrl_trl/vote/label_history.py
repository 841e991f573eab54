"""``ttrl/label_flip_rate``: how often a prompt's pseudo-label changes from one vote to the next.

A label-free collapse signal: while TTRL sharpens the policy, a prompt's majority answer should
settle. A flip rate that stays high means the labels are noise; one that drops to 0 while
``ttrl/answer_entropy`` also drops to 0 means the policy has locked its answers in (right or
wrong). The history is keyed by a digest of the prompt's token ids and holds, per prompt, the
last label (as the vote normalised it).

Equivalence without a new math-verify call: a label counts as *unchanged* when the new label is
the same string as the old one, or when the old label's string was voted again and landed in
the new winning cluster (math-verify already put it there, on the rank that voted). So ``0.5``
then ``1/2`` is no flip as long as some vote still wrote ``0.5``; if the old form vanished
entirely it counts as a flip (a rare over-count). No label (no answer won) is a label like any
other: ``None`` then ``7`` is a flip, ``None`` then ``None`` is not. Every rank holds the same
votes in the same order, so every rank computes the same rate, with no collective.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttrl_trl.vote.unicode_math import normalize_math_text
from ttrl_trl.vote.voting import VoteResult

STATE_FILE = "ttrl_label_history.json"
"""Written into every checkpoint folder, so a resumed run keeps each prompt's last label."""


def prompt_key(prompt_ids: Sequence[int]) -> str:
    """A short stable digest of a prompt's token ids (the same prompt on any rank, any run)."""
    return hashlib.sha1(",".join(map(str, prompt_ids)).encode()).hexdigest()[:16]


class LabelHistory:
    """Each prompt's last pseudo-label; :meth:`update` returns the flip rate of one batch of votes."""

    def __init__(self) -> None:
        self.last: dict[str, str | None] = {}

    def update(self, keys: Sequence[str], votes: Sequence[VoteResult]) -> float | None:
        """Record ``votes`` (one per prompt key); the share of already-seen prompts whose label changed.

        ``None`` when no prompt of the batch was voted before (nothing to compare yet). A prompt
        that appears twice in one batch is compared with its previous occurrence in the batch.
        """
        flips: list[bool] = []
        for key, vote in zip(keys, votes, strict=True):
            if key in self.last:
                flips.append(_flipped(self.last[key], vote))
            self.last[key] = vote.label
        return sum(flips) / len(flips) if flips else None

    def save(self, folder: str | Path) -> None:
        Path(folder, STATE_FILE).write_text(json.dumps({"last_label": self.last}))

    def load(self, folder: str | Path) -> bool:
        """Restore the history saved in ``folder``; False (history left empty) if there is none."""
        path = Path(folder, STATE_FILE)
        if not path.is_file():
            return False
        state: dict[str, Any] = json.loads(path.read_text())
        self.last = dict(state["last_label"])
        return True


def _flipped(previous: str | None, vote: VoteResult) -> bool:
    if previous == vote.label:
        return False
    if previous is None or vote.label is None:
        return True
    # Labels are the vote's normalised spellings: compare the answers in the same form.
    return not any(
        match and answer is not None and normalize_math_text(answer) == previous
        for answer, match in zip(vote.answers, vote.matches)
    )
