"""Trust Region Masking (TRM): drop whole sequences whose tokens left the trust region.

Notation. Completions are sampled from the rollout policy ``pi_roll`` (vLLM, or the model before the
optimiser steps) and trained under ``pi_theta``. Per token

    log rho_t = log pi_theta(y_t | c_t) - log pi_roll(y_t | c_t)        (``log_ratio``, shape (B, T))
    k3_t      = rho_t - 1 - log rho_t  >= 0

``k3_t`` is the low-variance, always non-negative single-sample estimator of the per-token
``KL(pi_roll(.|c_t) || pi_theta(.|c_t))`` (its expectation under ``y_t ~ pi_roll`` is exactly that KL).

A sequence is *masked* (its loss weight set to 0) when

    max_t |log rho_t| > delta_max      (no token may drift far: a worst-case, per-token criterion)
 or mean_t k3_t      > delta_avg      (the sequence as a whole must stay close on average)

Why a per-sequence mask built from per-token quantities, and not TRL's ``sequence_mask`` IS mode (which
masks when the product ``prod_t rho_t = exp(sum_t log rho_t)`` leaves ``[C_min, C_max]``)?

* Length bias: ``sum_t log rho_t`` is a random walk whose spread grows like ``sqrt(T)``, so a fixed window
  on the product masks long completions far more often than short ones for the same per-token mismatch,
  and long reasoning traces are exactly the ones TTRL must learn from.
* Exponential variance: the product's variance grows exponentially in ``T``; one threshold cannot suit a
  4-token and a 3,000-token answer. Small per-token errors of opposite signs also cancel in the sum and
  let a sequence with a wild token through.

``max |log rho|`` and ``mean k3`` do not grow with ``T`` and bound the quantities that the error bounds
below are stated in (``D_tok_max`` = the largest per-token KL, ``D_seq`` = the KL summed over a sequence).

Padding positions (``completion_mask == 0``) may hold anything, including ``inf`` and ``nan``; they are
removed with ``torch.where`` (never by multiplying with the mask, since ``nan * 0 == nan``). A ``nan`` on a
real token is treated as an infinite log ratio, so its sequence is masked by ``delta_max`` rather than
silently kept.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

LOG_RATIO_CLAMP = 20.0
"""log rho is clamped from above to this before ``exp`` in k3: exp(20) ~ 4.9e8 is finite in float32 and
already far beyond any sensible threshold. Only from above: for log rho -> -inf, k3 ~ -log rho - 1 stays
finite without help, and a lower clamp at -20 would shrink a token's k3 from e.g. 499 to 19 and let a long
sequence with one wild token through the ``delta_avg`` criterion."""


def _prepare(log_ratio: Tensor, completion_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Detached float log ratios with padding replaced by 0 and real-token nan by +inf, plus a bool mask."""
    if log_ratio.shape != completion_mask.shape:
        raise ValueError(
            f"log_ratio {tuple(log_ratio.shape)} and completion_mask {tuple(completion_mask.shape)} differ"
        )
    mask = completion_mask.detach() != 0
    lr = log_ratio.detach()
    if lr.dtype not in (torch.float32, torch.float64):
        lr = lr.float()  # bf16/fp16 lose too much in exp(x) - 1 - x
    lr = torch.where(mask, torch.nan_to_num(lr, nan=math.inf), torch.zeros_like(lr))
    return lr, mask


def _token_k3(lr: Tensor, mask: Tensor) -> Tensor:
    """Per-token k3 = rho - 1 - log rho on real tokens, 0 on padding (input from ``_prepare``)."""
    c = lr.clamp(max=LOG_RATIO_CLAMP)
    return torch.where(mask, torch.expm1(c) - c, torch.zeros_like(c))


def _max_abs(lr: Tensor) -> Tensor:
    """Row-wise max |log rho| (input from ``_prepare``, padding already 0); 0 for zero-length rows."""
    return lr.abs().amax(-1) if lr.shape[-1] else lr.new_zeros(lr.shape[:-1])


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over each row's real tokens; 0 for a row with none."""
    values = torch.where(mask, values, torch.zeros_like(values))
    return values.sum(-1) / mask.sum(-1).clamp(min=1).to(values.dtype)


@torch.no_grad()
def trm_sequence_stats(log_ratio: Tensor, completion_mask: Tensor) -> dict[str, Tensor]:
    """Per-sequence TRM statistics, shape (B,), in one pass over the tokens.

    ``max_abs_log_ratio`` and ``mean_k3`` are what the two criteria test; ``sum_k3``, ``max_k3`` and
    ``num_tokens`` are what the batch metrics need. Everything is per sequence, so a multi-GPU run
    gathers B numbers per statistic, not (B, T) tensors. An empty (all-padding) sequence gets 0
    everywhere, so it is never masked.
    """
    lr, mask = _prepare(log_ratio, completion_mask)
    k3 = _token_k3(lr, mask)
    num_tokens = mask.sum(-1)
    sum_k3 = k3.sum(-1)
    return {
        "max_abs_log_ratio": _max_abs(lr),
        "mean_k3": sum_k3 / num_tokens.clamp(min=1).to(sum_k3.dtype),
        "sum_k3": sum_k3,
        "max_k3": k3.amax(-1) if k3.shape[-1] else sum_k3,  # k3 >= 0 and 0 on padding
        "num_tokens": num_tokens,
    }


def trm_keep(stats: dict[str, Tensor], delta_max: float | None = None, delta_avg: float | None = None) -> Tensor:
    """(B,) bool: which sequences stay inside the trust region, from ``trm_sequence_stats``."""
    keep = torch.ones_like(stats["max_abs_log_ratio"], dtype=torch.bool)
    if delta_max is not None:
        keep &= stats["max_abs_log_ratio"] <= delta_max
    if delta_avg is not None:
        keep &= stats["mean_k3"] <= delta_avg
    return keep


@torch.no_grad()
def trm_sequence_mask(
    log_ratio: Tensor,
    completion_mask: Tensor,
    delta_max: float | None = None,
    delta_avg: float | None = None,
    *,
    token_kl: Tensor | None = None,
) -> Tensor:
    """(B,) loss weights: 1.0 keeps a sequence, 0.0 masks it.

    Masked iff ``max_t |log rho_t| > delta_max`` or ``mean_t k3_t > delta_avg``; a criterion set to ``None``
    is off (both off: all ones). ``token_kl`` (B, T), e.g. from ``exact_token_kl``, replaces the k3 estimate
    in the ``delta_avg`` criterion when the full logits of both policies are at hand.
    """
    stats = trm_sequence_stats(log_ratio, completion_mask)
    if token_kl is not None:
        _, mask = _prepare(log_ratio, completion_mask)
        exact = torch.nan_to_num(token_kl.detach().float(), nan=math.inf)
        stats = dict(stats, mean_k3=_masked_mean(exact, mask))
    keep = trm_keep(stats, delta_max, delta_avg)
    out_dtype = log_ratio.dtype if log_ratio.is_floating_point() else torch.float32
    return keep.to(out_dtype)


def trm_error_bounds(T: int, kl_tok_max: float, kl_seq: float | None = None) -> dict[str, float]:
    """Bounds on the surrogate objective's error for completions of length ``T`` (the seed's table).

    ``trpo``: classical TRPO-style ``T (T-1) D``; ``pinsker_marginal``: ``4/3 T^1.5 D``; ``mixed``:
    ``2 T sqrt(D D_seq)``, only when the sequence-level KL ``D_seq`` is given. ``D = kl_tok_max`` is the
    largest per-token KL. The quadratic TRPO bound is vacuous for long completions (T=4096, D=1e-4 gives
    ~1677), which is why the tighter ones matter.
    """
    if T < 0 or kl_tok_max < 0 or (kl_seq is not None and kl_seq < 0):
        raise ValueError("T, kl_tok_max and kl_seq must be non-negative")
    bounds = {
        "trpo": T * (T - 1) * kl_tok_max,
        "pinsker_marginal": 4.0 / 3.0 * T**1.5 * kl_tok_max,
    }
    if kl_seq is not None:
        bounds["mixed"] = 2.0 * T * math.sqrt(kl_tok_max * kl_seq)
    return bounds


def exact_token_kl(roll_logits: Tensor, theta_logits: Tensor) -> Tensor:
    """(B, T) exact ``KL(pi_roll(.|c_t) || pi_theta(.|c_t))`` from full logits (B, T, V).

    Costs a full-vocabulary pass, so it is the optional, precise alternative to the k3 estimate.
    """
    if roll_logits.shape != theta_logits.shape:
        raise ValueError(f"logit shapes differ: {tuple(roll_logits.shape)} vs {tuple(theta_logits.shape)}")
    log_p = torch.log_softmax(roll_logits.float(), dim=-1)
    log_q = torch.log_softmax(theta_logits.float(), dim=-1)
    # 0 * log 0 = 0: a token that pi_roll cannot produce contributes nothing (also when its logit is -inf).
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    return terms.sum(-1)


@torch.no_grad()
def trm_batch_metrics(log_ratio: Tensor, completion_mask: Tensor, seq_mask: Tensor) -> dict[str, float]:
    """Scalars to log for one batch (all sequences, before masking), including the three bounds."""
    return trm_stats_metrics(trm_sequence_stats(log_ratio, completion_mask), seq_mask)


def trm_stats_metrics(stats: dict[str, Tensor], seq_mask: Tensor) -> dict[str, float]:
    """The logged scalars from per-sequence statistics (possibly gathered from every rank).

    ``trm/kl_tok_max`` estimates ``D_tok_max`` as the largest per-token k3 and ``trm/kl_seq`` estimates
    ``D_seq`` as the largest per-sequence sum of k3; both are single-sample estimates, not guarantees.
    ``trm/k3/mean`` is the token mean of k3 over the batch; ``trm/T`` the longest completion.
    """
    max_abs, num_tokens = stats["max_abs_log_ratio"], stats["num_tokens"]
    if not max_abs.numel():
        T, kl_tok_max, kl_seq, n_tokens = 0, 0.0, 0.0, 0
    else:
        T, n_tokens = int(num_tokens.max()), int(num_tokens.sum())
        kl_tok_max, kl_seq = float(stats["max_k3"].max()), float(stats["sum_k3"].max())
    metrics = {
        "trm/masked_fraction": 1.0 - float(seq_mask.float().mean()) if seq_mask.numel() else 0.0,
        "trm/max_abs_log_ratio/mean": float(max_abs.mean()) if max_abs.numel() else 0.0,
        "trm/max_abs_log_ratio/max": float(max_abs.max()) if max_abs.numel() else 0.0,
        "trm/k3/mean": float(stats["sum_k3"].sum()) / n_tokens if n_tokens else 0.0,
        "trm/kl_tok_max": kl_tok_max,
        "trm/kl_seq": kl_seq,
        "trm/T": float(T),
    }
    for name, value in trm_error_bounds(T, kl_tok_max, kl_seq).items():
        metrics[f"trm/bound/{name}"] = value
    return metrics
