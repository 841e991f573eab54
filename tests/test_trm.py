"""Trust Region Masking math against plain per-sequence Python references."""

from __future__ import annotations

import math

import pytest
import torch

from ttrl_trl.training.trm import (
    exact_token_kl,
    trm_batch_metrics,
    trm_error_bounds,
    trm_sequence_mask,
    trm_sequence_stats,
)

JUNK = [1e30, -1e30, math.inf, -math.inf, math.nan, 1e4]


def _batch(seed: int, lengths: list[int], T: int, scale: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Random log ratios (heavy-ish tails) with right padding filled with junk, and the completion mask."""
    g = torch.Generator().manual_seed(seed)
    B = len(lengths)
    log_ratio = torch.randn(B, T, generator=g, dtype=torch.float64) * scale
    spikes = torch.rand(B, T, generator=g) < 0.01
    log_ratio[spikes] *= 20.0  # a few far-out tokens so delta_max actually bites
    mask = torch.zeros(B, T, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
        for j in range(n, T):
            log_ratio[i, j] = JUNK[(i + j) % len(JUNK)]
    return log_ratio, mask


def _reference(log_ratio: torch.Tensor, mask: torch.Tensor, delta_max, delta_avg) -> list[float]:
    """The definition, one sequence and one token at a time."""
    out = []
    for row, m in zip(log_ratio.tolist(), mask.tolist()):
        own = [x for x, keep in zip(row, m) if keep]
        max_abs = max((abs(x) for x in own), default=0.0)
        k3 = [math.exp(x) - 1.0 - x for x in own]
        mean_k3 = sum(k3) / len(k3) if k3 else 0.0
        masked = (delta_max is not None and max_abs > delta_max) or (delta_avg is not None and mean_k3 > delta_avg)
        out.append(0.0 if masked else 1.0)
    return out


LENGTHS = [1, 2, 3, 7, 50, 128, 299, 300, 0, 17, 200, 5]


@pytest.mark.parametrize(
    ("delta_max", "delta_avg"), [(1.0, None), (None, 0.05), (1.0, 0.05), (2.5, 0.04), (None, None)]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mask_matches_reference(seed: int, delta_max, delta_avg) -> None:
    log_ratio, mask = _batch(seed, LENGTHS, T=300)
    got = trm_sequence_mask(log_ratio, mask, delta_max=delta_max, delta_avg=delta_avg)
    assert got.shape == (len(LENGTHS),)
    assert got.tolist() == _reference(log_ratio, mask, delta_max, delta_avg)


def test_both_criteria_matter_and_combine() -> None:
    log_ratio, mask = _batch(3, LENGTHS * 4, T=300)
    by_max = trm_sequence_mask(log_ratio, mask, delta_max=1.0)
    by_avg = trm_sequence_mask(log_ratio, mask, delta_avg=0.05)
    both = trm_sequence_mask(log_ratio, mask, delta_max=1.0, delta_avg=0.05)
    # The test data must exercise each criterion on its own, else the reference check above proves little.
    assert 0 < by_max.sum() < len(by_max) and 0 < by_avg.sum() < len(by_avg)
    assert not torch.equal(by_max, by_avg)
    assert torch.equal(both, by_max * by_avg)


def test_stats_ignore_junk_padding_and_empty_rows() -> None:
    log_ratio, mask = _batch(4, LENGTHS, T=300)
    stats = trm_sequence_stats(log_ratio, mask)
    assert all(torch.isfinite(v.double()).all() for v in stats.values())
    assert stats["num_tokens"].tolist() == LENGTHS
    empty = LENGTHS.index(0)
    assert stats["max_abs_log_ratio"][empty] == 0 and stats["mean_k3"][empty] == 0
    # Same real tokens, clean padding: identical statistics.
    clean = torch.where(mask.bool(), log_ratio, torch.zeros_like(log_ratio))
    for key, value in trm_sequence_stats(clean, mask).items():
        torch.testing.assert_close(stats[key], value)


def test_all_padding_batch_keeps_everything() -> None:
    log_ratio = torch.full((3, 4), math.nan)
    mask = torch.zeros(3, 4)
    assert trm_sequence_mask(log_ratio, mask, delta_max=0.1, delta_avg=0.01).tolist() == [1.0, 1.0, 1.0]


def test_nan_on_a_real_token_masks_its_sequence() -> None:
    log_ratio = torch.tensor([[0.0, math.nan, 0.0], [0.0, 0.0, 0.0]])
    mask = torch.ones(2, 3)
    assert trm_sequence_mask(log_ratio, mask, delta_max=5.0).tolist() == [0.0, 1.0]
    assert trm_sequence_mask(log_ratio, mask, delta_avg=5.0).tolist() == [0.0, 1.0]


def test_huge_real_log_ratio_is_masked_without_overflow() -> None:
    log_ratio = torch.tensor([[500.0, 0.0], [-500.0, 0.0], [0.01, -0.01]])
    mask = torch.ones(3, 2)
    stats = trm_sequence_stats(log_ratio, mask)
    assert torch.isfinite(stats["mean_k3"]).all()
    assert trm_sequence_mask(log_ratio, mask, delta_avg=1.0).tolist() == [0.0, 0.0, 1.0]


def test_very_negative_log_ratio_keeps_its_full_k3() -> None:
    """One token at log rho = -100 in 1,000: mean k3 = 99/1000 > 0.05 (a clamp at -20 would give 0.019)."""
    log_ratio = torch.zeros(2, 1000)
    log_ratio[0, 10] = -100.0
    mask = torch.ones(2, 1000)
    assert trm_sequence_stats(log_ratio, mask)["mean_k3"][0].item() == pytest.approx(0.099)
    assert trm_sequence_mask(log_ratio, mask, delta_avg=0.05).tolist() == [0.0, 1.0]
    assert trm_sequence_mask(log_ratio.double(), mask, delta_avg=0.05).tolist() == [0.0, 1.0]


def test_stats_are_detached_and_mask_dtype() -> None:
    log_ratio = torch.randn(2, 5, requires_grad=True)
    mask = torch.ones(2, 5, dtype=torch.bool)
    assert not any(v.requires_grad for v in trm_sequence_stats(log_ratio, mask).values())
    out = trm_sequence_mask(log_ratio.bfloat16(), mask, delta_max=10.0)
    assert out.dtype == torch.bfloat16 and not out.requires_grad


def test_exact_token_kl_criterion_replaces_k3() -> None:
    log_ratio = torch.zeros(2, 3)  # k3 says "identical"
    mask = torch.ones(2, 3)
    token_kl = torch.tensor([[0.0, 0.3, 0.0], [0.0, 0.0, 0.0]])
    assert trm_sequence_mask(log_ratio, mask, delta_avg=0.05).tolist() == [1.0, 1.0]
    assert trm_sequence_mask(log_ratio, mask, delta_avg=0.05, token_kl=token_kl).tolist() == [0.0, 1.0]


def test_bounds_reproduce_the_seed_table() -> None:
    bounds = trm_error_bounds(4096, 1e-4, 0.4096)
    assert bounds["trpo"] == pytest.approx(4096 * 4095 * 1e-4)  # 1677.312 (T^2 D would be 1677.7216)
    assert round(bounds["trpo"], 1) == 1677.3
    assert round(bounds["pinsker_marginal"], 2) == 34.95
    assert round(bounds["mixed"], 2) == 52.43
    assert round(trm_error_bounds(4096, 1e-4, 0.01)["mixed"], 2) == 8.19
    assert set(trm_error_bounds(4096, 1e-4)) == {"trpo", "pinsker_marginal"}
    with pytest.raises(ValueError):
        trm_error_bounds(10, -1.0)


def test_exact_token_kl_matches_direct_computation() -> None:
    g = torch.Generator().manual_seed(0)
    roll = torch.randn(2, 3, 11, generator=g, dtype=torch.float64)
    theta = roll + 0.5 * torch.randn(2, 3, 11, generator=g, dtype=torch.float64)
    got = exact_token_kl(roll, theta)
    for b in range(2):
        for t in range(3):
            p = torch.softmax(roll[b, t], -1).tolist()
            q = torch.softmax(theta[b, t], -1).tolist()
            want = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
            assert got[b, t].item() == pytest.approx(want, rel=1e-4, abs=1e-6)
    assert (got > 0).all()
    torch.testing.assert_close(exact_token_kl(roll, roll), torch.zeros(2, 3), atol=1e-6, rtol=0)


def test_exact_token_kl_handles_impossible_tokens() -> None:
    roll = torch.tensor([[[0.0, 0.0, -math.inf]]])
    theta = torch.tensor([[[0.0, 0.0, 3.0]]])
    got = exact_token_kl(roll, theta)
    q = torch.softmax(theta[0, 0], -1)
    want = 0.5 * math.log(0.5 / q[0].item()) + 0.5 * math.log(0.5 / q[1].item())
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_batch_metrics_keys_and_values() -> None:
    log_ratio, mask = _batch(5, LENGTHS, T=300, scale=0.05)
    seq_mask = trm_sequence_mask(log_ratio, mask, delta_max=0.5, delta_avg=0.01)
    m = trm_batch_metrics(log_ratio, mask, seq_mask)
    expected = {
        "trm/masked_fraction",
        "trm/max_abs_log_ratio/mean",
        "trm/max_abs_log_ratio/max",
        "trm/k3/mean",
        "trm/kl_tok_max",
        "trm/kl_seq",
        "trm/T",
        "trm/bound/trpo",
        "trm/bound/pinsker_marginal",
        "trm/bound/mixed",
    }
    assert set(m) == expected
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert m["trm/masked_fraction"] == pytest.approx(1.0 - seq_mask.mean().item())
    assert m["trm/T"] == 300.0
    assert 0 <= m["trm/k3/mean"] <= m["trm/kl_tok_max"] <= m["trm/kl_seq"]
    assert m["trm/max_abs_log_ratio/mean"] <= m["trm/max_abs_log_ratio/max"]
    # Reference values for the KL estimates, one sequence at a time.
    k3_rows = [
        [math.exp(x) - 1 - x for x, keep in zip(row, mrow) if keep]
        for row, mrow in zip(log_ratio.tolist(), mask.tolist())
    ]
    assert m["trm/kl_tok_max"] == pytest.approx(max(max(r, default=0.0) for r in k3_rows))
    assert m["trm/kl_seq"] == pytest.approx(max(sum(r) for r in k3_rows))
    assert m["trm/bound/trpo"] == pytest.approx(300 * 299 * m["trm/kl_tok_max"])


def test_batch_metrics_empty_batch() -> None:
    m = trm_batch_metrics(torch.zeros(0, 0), torch.zeros(0, 0), torch.zeros(0))
    assert m["trm/T"] == 0.0 and m["trm/bound/trpo"] == 0.0
