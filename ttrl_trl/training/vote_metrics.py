"""The ``ttrl/`` metrics of one batch's vote, read from the sampler's result alone (no trainer state).

Names say what they measure. With the full vote every group holds ``n`` votes, so the label's
accuracy is ``ttrl/maj@{n}`` and "some vote is right" is ``ttrl/pass@{n}``. With adaptive voting
a group that settled early holds fewer votes: ``maj@n`` / ``pass@n`` would overstate what was
drawn, so only ``ttrl/label_accuracy`` and ``ttrl/pass@drawn`` (some vote among those drawn is
right) are logged, next to ``ttrl/votes_per_prompt`` and ``ttrl/settled_fraction``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ttrl_trl.vote.rewards import answer_entropy
from ttrl_trl.vote.sampler import VoteSample


def vote_metrics(sample: VoteSample) -> dict[str, float]:
    """Every ``ttrl/`` metric of the batch (the same on every rank: computed from the shared votes and counts)."""
    votes, stats = sample.votes, sample.stats
    metrics = {
        "ttrl/majority_ratio": _mean(v.vote.ratio for v in votes),
        "ttrl/no_answer_rate": _mean(a is None for v in votes for a in v.vote.answers),
        "ttrl/no_label_rate": _mean(v.vote.label is None for v in votes),
        "ttrl/votes_per_prompt": _mean(len(v.vote.answers) for v in votes),
        # What the vote cost, all ranks: every completion generated for it, vote-only ones included, padding not.
        "ttrl/generated_tokens": float(stats.generated_tokens),
        "ttrl/generated_completions": float(stats.generated_completions),
        "ttrl/filtered_fraction": _mean(v.filtered for v in votes),
        "ttrl/answer_entropy": _mean(answer_entropy(v.vote) for v in votes),
    }
    if stats.settled_fraction is not None:
        metrics["ttrl/settled_fraction"] = stats.settled_fraction
    if not votes or any(v.correct is None for v in votes):
        return metrics
    label_correct = [v.label_correct for v in votes]
    metrics["ttrl/label_accuracy"] = _mean(label_correct)
    if sample.adaptive:
        metrics["ttrl/pass@drawn"] = _mean(any(v.correct) for v in votes)
    else:
        n = len(votes[0].vote.answers)
        metrics[f"ttrl/maj@{n}"] = _mean(label_correct)
        metrics[f"ttrl/pass@{n}"] = _mean(any(v.correct) for v in votes)
    metrics["ttrl/reward_accuracy"] = _mean(m == c for v in votes for m, c in zip(v.vote.matches, v.correct))
    metrics["ttrl/rollout_accuracy"] = _mean(c for v in votes for c in v.correct)
    return metrics


def _mean(values: Iterable[float | bool]) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0
