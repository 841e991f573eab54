"""Guards against TTRL's collapse onto wrong majorities: per-prompt changes to the GRPO advantages.

TTRL reinforces its own majority. Where that majority is wrong, training drives the right answer
out (pass@k falls) and the wrong one in (label accuracy falls while the majority ratio rises).
Two label-free guards from the literature, each a per-prompt affine map of the advantages that
TRL computed, ``A_i <- scale * A_i + shift``, applied after GRPO's group normalisation (scaling the
*rewards* instead would be undone by that normalisation):

* **Low-consensus penalty** (RESTRAIN, "negative rollout penalization", arXiv 2510.02172, Sec. 3):
  for a prompt whose largest answer cluster holds fewer than ``kappa`` of its votes, "every reward
  is 0 and every advantage is ``A - delta``", i.e. ``A_i = -delta`` for all its completions: with
  no reliable majority, no answer is reinforced and every sampled one is pushed down a little,
  which keeps the policy exploring that prompt instead of locking a coin-flip majority in. RESTRAIN
  states ``kappa`` as a count of votes; here it is a share (``low_consensus_threshold``), so one
  value fits any ``n_votes_per_prompt``. The paper's other two parts (Gaussian pseudo-label
  weighting, prompt weights from the base model) are not implemented.
* **Flip-rate-aware scaling** (TTRL-Guard's FRS, arXiv 2605.19444; constants from the authors'
  released code, ``TTRLGuard`` in ``verl/trainer/ppo/ttrl_utils.py``): a prompt whose pseudo-label
  flipped since its previous vote (``FR_i = 1``) has an unreliable label, so its update is damped,
  ``w_i = max(0.1, (1 - lambda1 FR_i) (1 - lambda2 [MR_i > 0.6 and FR_i = 1]))`` with
  ``lambda1 = 0.5``, ``lambda2 = 0.3`` and ``MR_i`` the prompt's majority ratio (a confident
  majority that just flipped is the most suspicious), and ``A_i <- w_i A_i``. A prompt's first
  vote has no flip (``w = 1``). The released code's third term (a "suspected wrong steady state"
  after a window of 5 visits) is left out: it needs more visits per prompt than short test-time
  runs make.

Both are functions of the votes and of the label history, which every rank holds identically, so
every rank computes the same maps with no collective; they compose with the sharded and the
adaptive vote unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ttrl_trl.vote.label_history import LabelHistory
from ttrl_trl.vote.voting import VoteResult

FRS_LAMBDA1 = 0.5
FRS_LAMBDA2 = 0.3
FRS_CONFIDENT_RATIO = 0.6
FRS_MIN_WEIGHT = 0.1


@dataclass(frozen=True)
class AdvantageMap:
    """``A <- scale * A + shift`` for every completion of one prompt."""

    scale: float = 1.0
    shift: float = 0.0

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.shift == 0.0


IDENTITY = AdvantageMap()


@dataclass(frozen=True)
class GuardRule:
    """``TTRLConfig``'s guard settings; :meth:`maps` turns a batch of votes into per-prompt advantage maps."""

    low_consensus_threshold: float | None = None
    low_consensus_penalty: float = 0.0
    flip_rate_scaling: bool = False

    @classmethod
    def from_config(cls, args: Any) -> GuardRule:
        return cls(
            getattr(args, "low_consensus_threshold", None),
            getattr(args, "low_consensus_penalty", 0.0),
            getattr(args, "flip_rate_scaling", False),
        )

    @property
    def enabled(self) -> bool:
        return self.low_consensus_threshold is not None or self.flip_rate_scaling

    def map(self, vote: VoteResult, flipped: bool | None) -> AdvantageMap:
        """One prompt's map from its vote and whether its label flipped since its last vote (None: first vote)."""
        if self.low_consensus_threshold is not None and vote.ratio < self.low_consensus_threshold:
            return AdvantageMap(0.0, -self.low_consensus_penalty)
        if self.flip_rate_scaling and flipped:
            weight = 1.0 - FRS_LAMBDA1
            if vote.ratio > FRS_CONFIDENT_RATIO:
                weight *= 1.0 - FRS_LAMBDA2
            return AdvantageMap(max(FRS_MIN_WEIGHT, weight), 0.0)
        return IDENTITY

    def maps(self, votes: Sequence[VoteResult], flips: Sequence[bool | None]) -> list[AdvantageMap]:
        return [self.map(vote, flipped) for vote, flipped in zip(votes, flips, strict=True)]


def record_labels(
    history: LabelHistory, keys: Sequence[str], votes: Sequence[VoteResult], guard: GuardRule
) -> tuple[dict[str, float], list[AdvantageMap]]:
    """One training batch's label signals and guard maps (every rank alike, from the shared votes).

    The maps read the history as it was *before* this batch (a flip is a change since the previous
    vote); then the batch is recorded. Returns the ``ttrl/`` metrics (flip rate, anchor agreement,
    the guards' shares) and one map per group (empty when no guard is on).
    """
    flips = history.flips(keys, votes)
    maps = guard.maps(votes, flips) if guard.enabled else []
    metrics: dict[str, float] = {}
    rate = history.update(keys, votes, flips)
    if rate is not None:
        metrics["ttrl/label_flip_rate"] = rate
    agreement = history.anchor_agreement(keys, votes)
    if agreement is not None:
        metrics["ttrl/anchor_agreement"] = agreement
    if maps:
        metrics["ttrl/guard_scaled_fraction"] = sum(0 < m.scale < 1 for m in maps) / len(maps)
        metrics["ttrl/guard_penalised_fraction"] = sum(m.shift != 0 for m in maps) / len(maps)
    return metrics, maps


def apply_advantage_maps(advantages: Any, maps: Sequence[AdvantageMap]) -> Any:
    """``scale * A + shift`` per completion (a tensor of TRL's local advantages, one map per row)."""
    scale = advantages.new_tensor([m.scale for m in maps])
    shift = advantages.new_tensor([m.shift for m in maps])
    return advantages * scale + shift


def check_guard_options(threshold: float | None, penalty: float) -> None:
    """Refuse guard settings out of range, naming the field."""
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise ValueError(
            f"low_consensus_threshold must be in (0, 1] (a share of the votes, e.g. 0.4), or None (off); got {threshold}."
        )
    if not penalty >= 0.0:
        raise ValueError(f"low_consensus_penalty must be >= 0 (the advantage subtracted, e.g. 0.2); got {penalty}.")
    if threshold is None and penalty:
        raise ValueError(
            f"low_consensus_penalty={penalty} has no effect without low_consensus_threshold: set the threshold (e.g. 0.4) "
            "or leave the penalty at 0."
        )
