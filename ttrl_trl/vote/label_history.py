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
    """Each prompt's first and last pseudo-label; :meth:`update` returns the flip rate of one batch of votes.

    The first label is the *anchor* of :meth:`anchor_agreement`: the vote of the policy TTRL
    started from, before any self-reinforcement (on the demo its accuracy, the initial maj@k, is far
    above the initial pass@1), so agreement with it is a label-free estimate of how much of the
    majority's knowledge the policy has absorbed, which falls when answers drift to new majorities.
    """

    def __init__(self) -> None:
        self.last: dict[str, str | None] = {}
        self.first: dict[str, str | None] = {}

    def update(
        self, keys: Sequence[str], votes: Sequence[VoteResult], flips: Sequence[bool | None] | None = None
    ) -> float | None:
        """Record ``votes`` (one per prompt key); the share of already-seen prompts whose label changed.

        ``None`` when no prompt of the batch was voted before (nothing to compare yet). A prompt
        that appears twice in one batch is compared with its previous occurrence in the batch.
        ``flips``: this batch's :meth:`flips`, when the caller already has them.
        """
        changed = [flip for flip in (self.flips(keys, votes) if flips is None else flips) if flip is not None]
        for key, vote in zip(keys, votes, strict=True):
            self.last[key] = vote.label
            self.first.setdefault(key, vote.label)
        return sum(changed) / len(changed) if changed else None

    def flips(self, keys: Sequence[str], votes: Sequence[VoteResult]) -> list[bool | None]:
        """Per vote: did its prompt's label change since that prompt's previous vote? ``None`` for a first vote.

        Reads the history without recording anything (:meth:`update` records).
        """
        in_batch: dict[str, str | None] = {}  # labels this batch already gave, without copying the history
        result: list[bool | None] = []
        for key, vote in zip(keys, votes, strict=True):
            if key in in_batch or key in self.last:
                result.append(_flipped(in_batch[key] if key in in_batch else self.last[key], vote))
            else:
                result.append(None)
            in_batch[key] = vote.label
        return result

    def anchor_agreement(self, keys: Sequence[str], votes: Sequence[VoteResult]) -> float | None:
        """The share of votes equivalent to their prompt's first label, over prompts that have one.

        Call after :meth:`update` (a prompt's first vote is its own anchor: agreement = its
        majority ratio). Equivalence without math-verify, as for flips: a vote agrees when it lies in
        a cluster that holds the anchor's (normalised) spelling; if no vote wrote that spelling, none
        agrees. ``None`` when no prompt of the batch has an anchor label (all "no answer").
        """
        shares = [_agreement(self.first[key], vote) for key, vote in zip(keys, votes, strict=True)]
        shares = [share for share in shares if share is not None]
        return sum(shares) / len(shares) if shares else None

    def save(self, folder: str | Path) -> None:
        Path(folder, STATE_FILE).write_text(json.dumps({"last_label": self.last, "first_label": self.first}))

    def load(self, folder: str | Path) -> bool:
        """Restore the history saved in ``folder``; False (history left empty) if there is none."""
        path = Path(folder, STATE_FILE)
        if not path.is_file():
            return False
        state: dict[str, Any] = json.loads(path.read_text())
        self.last = dict(state["last_label"])
        self.first = dict(state.get("first_label", {}))  # absent from checkpoints of earlier versions
        return True


def _agreement(anchor: str | None, vote: VoteResult) -> float | None:
    if anchor is None or not vote.answers:
        return None
    clusters = vote.clusters or [None] * len(vote.answers)
    anchored = {
        cluster
        for answer, cluster in zip(vote.answers, clusters)
        if cluster is not None and answer is not None and normalize_math_text(answer) == anchor
    }
    return sum(cluster in anchored for cluster in clusters) / len(vote.answers)


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
