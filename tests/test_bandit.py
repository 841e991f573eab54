"""The bandit theory check: exact majority error, its simulation, and the direction of learning."""

from __future__ import annotations

import math

import pytest

from ttrl_trl.demo.bandit import exact_majority_error, main, run_bandit


@pytest.fixture(scope="module")
def default_run() -> dict:
    return run_bandit(seed=0)


def test_exact_majority_error_is_the_binomial_tail() -> None:
    want = sum(math.comb(20, k) for k in range(11)) / 2**20
    assert exact_majority_error(20, 0.5) == pytest.approx(want, rel=1e-12)
    assert round(want, 3) == 0.588  # docs/reference.md's recomputed figure (the seed printed 0.105)
    assert exact_majority_error(21, 0.5) == pytest.approx(0.5)  # odd N: no ties, symmetric
    assert exact_majority_error(20, 1.0) == 0.0 and exact_majority_error(20, 0.0) == 1.0


def test_empirical_majority_error_matches_exact(default_run: dict) -> None:
    r = default_run
    assert r["accuracy_start"] == pytest.approx(0.5)
    assert r["majority_error_start_exact"] == pytest.approx(0.5881, abs=1e-4)
    # 1,000 Bernoulli(0.588) indicators: standard error sqrt(e (1 - e) / 1000) ~ 0.0156; allow 4 sigma.
    assert r["majority_error_start_se"] == pytest.approx(math.sqrt(0.5881 * 0.4119 / 1000), rel=1e-3)
    assert (
        abs(r["majority_error_start_empirical"] - r["majority_error_start_exact"]) < 4 * r["majority_error_start_se"]
    )


def test_two_answers_from_a_fair_start_carry_no_signal(default_run: dict) -> None:
    """By symmetry the better arm's mean final probability is exactly 0.5 when the vote has two answers."""
    r = default_run
    assert abs(r["p_better_final_mean"] - 0.5) < 4 * r["p_better_final_se"]
    assert r["drift_factor_start"] < 0  # the note's condition e < 1/2 fails at the start
    assert 0 < r["kl_final_start_mean"] <= r["kl_final_start_max"]


def test_better_arm_gains_when_wrong_answers_disagree() -> None:
    r = run_bandit(seed=1, wrong_answers=3)
    assert r["label_error_start_empirical"] < 0.5
    assert r["p_better_final_mean"] > 0.5 + 4 * r["p_better_final_se"]
    assert r["frac_runs_better_above_start"] > 0.9
    assert r["accuracy_final_mean"] > r["accuracy_start"]


def test_better_arm_gains_when_the_vote_is_reliable() -> None:
    """Start where e < 1/2 (accuracy 0.58): the analysis' positive case, with two answers."""
    r = run_bandit(seed=2, start=0.9)
    assert r["majority_error_start_exact"] < 0.5
    assert r["p_better_final_mean"] > 0.9 + 4 * r["p_better_final_se"]


def test_cli_prints_and_returns(capsys: pytest.CaptureFixture[str]) -> None:
    r = main(["--runs", "50", "--steps", "5", "--seed", "3", "--votes", "9", "--batch", "3", "--lr", "0.2"])
    out = capsys.readouterr().out
    assert "exact P(Binom(9, 0.5) <= 4)" in out and "quoted bound 0.568" in out
    assert r["runs"] == 50 and r["votes"] == 9 and r["quoted_kl_bound"] == 0.568
    with pytest.raises(ValueError):
        run_bandit(batch=30)
