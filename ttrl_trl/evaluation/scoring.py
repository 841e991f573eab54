"""Grading one problem's samples with the code that makes the training rewards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.metrics import MajorityOutcome, majority_outcome, problem_metrics
from ttrl_trl.vote.voting import extract_answer, is_correct


def grade_samples(texts: Sequence[str], gold: str | None) -> tuple[list[dict[str, Any]], MajorityOutcome]:
    """Each sample's text, answer and grade, and the graded majority vote: what ``ttrl-eval`` writes and what
    the benchmark evaluation during training logs, from one code path."""
    answers = [extract_answer(t) for t in texts]
    samples = [{"text": t, "answer": a, "correct": bool(is_correct(a, gold))} for t, a in zip(texts, answers)]
    return samples, majority_outcome(answers, gold)


def score_problem(row: Mapping[str, Any], texts: Sequence[str], config: EvalConfig) -> dict[str, Any]:
    """One generations.jsonl line: the problem, its samples graded one by one, the vote and its metrics."""
    gold = row.get("answer")
    samples, vote = grade_samples(texts, gold)
    record: dict[str, Any] = {"id": row["id"]} if row.get("id") is not None else {}
    record |= {
        "problem": row["problem"],
        "prompt": row["prompt"],
        "gold": gold,
        "samples": samples,
        "label": vote.label,
        "majority_ratio": vote.ratio,
        "maj_correct": vote.correct,
    }
    record["metrics"] = problem_metrics(record, config.num_samples, config.pass_at)
    return record


def check_shape(completions: Sequence[Sequence[str]], n_problems: int, k: int) -> None:
    """A backend that returns the wrong number of completions would silently skew every metric."""
    shapes = {len(c) for c in completions}
    if len(completions) != n_problems or shapes != {k}:
        raise RuntimeError(
            f"generation returned {len(completions)} problems x {sorted(shapes)} samples, expected {n_problems} x {k}"
        )
