"""Evaluation metrics: pass@1 (as avg@k), maj@k, unbiased pass@k and the no-answer rate.

Pure functions over already graded samples, so they can be tested by hand and reused by the
training logger. The majority vote and the grader come from :mod:`ttrl_trl.vote.voting`, the same
ones that produce TTRL's pseudo-labels: maj@k here is exactly the label accuracy of training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ttrl_trl.vote.voting import is_correct, vote_on_answers


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct: ``1 - C(n-c, k) / C(n, k)``.

    Written as the product ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (Chen et al., 2021), which never
    forms the huge binomials and so stays exact enough for any ``n``.
    """
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 1 <= k <= n, got n={n}, k={k}: draw at least k samples per problem")
    if n - c < k:  # every draw of k samples holds a correct one
        return 1.0
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong


def avg_at_k(correct_flags: Sequence[bool]) -> float:
    """Mean correctness over one problem's k samples: the paper's pass@1 estimate."""
    if len(correct_flags) == 0:
        raise ValueError("avg_at_k needs at least one sample")
    return sum(bool(f) for f in correct_flags) / len(correct_flags)


@dataclass(frozen=True)
class MajorityOutcome:
    """The voted answer of one problem's samples, whether it is right, and its share of the votes."""

    label: str | None
    correct: bool
    ratio: float


def majority_outcome(samples_answers: Sequence[str | None], gold: str | None) -> MajorityOutcome:
    """Vote as training does and grade the label; no label (no sample answered) is incorrect."""
    vote = vote_on_answers(samples_answers)
    correct = vote.label is not None and is_correct(vote.label, gold)
    return MajorityOutcome(label=vote.label, correct=bool(correct), ratio=float(vote.ratio))


def maj_at_k(samples_answers: Sequence[str | None], gold: str | None) -> float:
    """maj@k for one problem: 1.0 if the majority-voted answer is correct, else 0.0."""
    return float(majority_outcome(samples_answers, gold).correct)


def no_answer_rate(samples_answers: Sequence[str | None]) -> float:
    """Share of samples from which no final answer could be extracted (truncation, no \\boxed{})."""
    if len(samples_answers) == 0:
        raise ValueError("no_answer_rate needs at least one sample")
    return sum(a is None for a in samples_answers) / len(samples_answers)


def metric_names(k: int, pass_at: Sequence[int] = ()) -> list[str]:
    """The metric keys, in report order: pass@1, maj@k, pass@k, the extra pass@k', no_answer_rate."""
    names = ["pass@1", f"maj@{k}", f"pass@{k}"]
    names += [f"pass@{j}" for j in sorted(set(pass_at)) if f"pass@{j}" not in names]
    return names + ["no_answer_rate"]


def problem_metrics(record: Mapping[str, Any], k: int, pass_at: Sequence[int] = ()) -> dict[str, float]:
    """All metrics of one problem from its record: ``samples`` (each with ``answer`` and ``correct``)
    and ``maj_correct``."""
    samples = record["samples"]
    flags = [bool(s["correct"]) for s in samples]
    n, c = len(flags), sum(flags)
    out = {"pass@1": avg_at_k(flags), f"maj@{k}": float(record["maj_correct"])}
    for j in [k, *pass_at]:
        out[f"pass@{j}"] = pass_at_k(n, c, j)
    out["no_answer_rate"] = no_answer_rate([s["answer"] for s in samples])
    return {name: out[name] for name in metric_names(k, pass_at)}


def summarize(per_problem_records: Sequence[Mapping[str, Any]], k: int, pass_at: Sequence[int] = ()) -> dict[str, Any]:
    """Average every metric over problems (each problem weighs the same, as in the paper)."""
    if len(per_problem_records) == 0:
        raise ValueError("summarize needs at least one problem record")
    per_problem = [problem_metrics(r, k, pass_at) for r in per_problem_records]
    summary: dict[str, Any] = {
        name: sum(m[name] for m in per_problem) / len(per_problem) for name in metric_names(k, pass_at)
    }
    summary["num_problems"] = len(per_problem_records)
    summary["num_samples"] = k
    return summary
