"""Metric estimators against hand-computed cases."""

from __future__ import annotations

from math import comb

import pytest

from ttrl_trl.evaluation.metrics import avg_at_k, maj_at_k, majority_outcome, no_answer_rate, pass_at_k, summarize


def _record(answers: list[str | None], gold: str) -> dict:
    """A generations.jsonl-like record, graded by plain string equality (enough for these cases)."""
    return {
        "samples": [{"answer": a, "correct": a == gold} for a in answers],
        "maj_correct": majority_outcome(answers, gold).correct,
    }


def test_pass_at_k_hand_computed() -> None:
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)  # 1 - C(2,2)/C(4,2)


@pytest.mark.parametrize("n", [1, 4, 16])
def test_pass_at_k_edges(n: int) -> None:
    for k in range(1, n + 1):
        assert pass_at_k(n, 0, k) == 0.0
        assert pass_at_k(n, n, k) == 1.0
    assert pass_at_k(n, 1, n) == 1.0  # k = n: any correct sample is drawn


def test_pass_at_k_matches_binomial_form() -> None:
    for n in (5, 16, 64):
        for c in range(n + 1):
            for k in (1, 2, n // 2, n):
                exact = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_large_n_is_stable() -> None:
    value = pass_at_k(2000, 3, 1000)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(1 - (1000 * 999 * 998) / (2000 * 1999 * 1998), rel=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, -1, 1), (4, 1, 0), (4, 1, 5)])
def test_pass_at_k_rejects_bad_input(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_avg_at_k() -> None:
    assert avg_at_k([True, False, False, False]) == 0.25
    assert avg_at_k([True]) == 1.0
    with pytest.raises(ValueError):
        avg_at_k([])


def test_maj_at_k_tie_first_seen_wins() -> None:
    answers = ["3", "5", "5", "3"]
    assert majority_outcome(answers, "3").label == "3"
    assert maj_at_k(answers, "3") == 1.0
    assert maj_at_k(answers, "5") == 0.0


def test_maj_at_k_plain_majority_and_missing_answers() -> None:
    assert maj_at_k(["7", None, "7", "2"], "7") == 1.0
    assert maj_at_k(["2", "2", "7", None], "7") == 0.0


def test_problem_without_answers_is_incorrect_and_counted() -> None:
    answers: list[str | None] = [None, None, None, None]
    outcome = majority_outcome(answers, "204")
    assert outcome.label is None and not outcome.correct
    assert maj_at_k(answers, "204") == 0.0
    assert no_answer_rate(answers) == 1.0


def test_summarize_two_problems() -> None:
    records = [_record(["1", "2", "1", "1"], "1"), _record([None, None, None, "9"], "1")]
    summary = summarize(records, k=4, pass_at=[2])
    assert list(summary) == ["pass@1", "maj@4", "pass@4", "pass@2", "no_answer_rate", "num_problems", "num_samples"]
    assert summary["pass@1"] == pytest.approx((0.75 + 0.0) / 2)
    assert summary["maj@4"] == pytest.approx(0.5)
    assert summary["pass@4"] == pytest.approx(0.5)
    assert summary["pass@2"] == pytest.approx((1.0 + 0.0) / 2)  # 3 of 4 correct: any 2 hold one
    assert summary["no_answer_rate"] == pytest.approx((0 + 0.75) / 2)
    assert summary["num_problems"] == 2 and summary["num_samples"] == 4


def test_summarize_k1_pass_at_1_is_not_duplicated() -> None:
    summary = summarize([_record(["1"], "1")], k=1, pass_at=[1])
    assert [key for key in summary if key.startswith("pass@")] == ["pass@1"]
    assert summary["pass@1"] == 1.0 and summary["maj@1"] == 1.0
