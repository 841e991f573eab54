"""Per-vote rewards as a function of one prompt's vote, the consensus band, and the vote's entropy.

Pure functions of a :class:`~ttrl_trl.vote.voting.VoteResult`: they run on the rank that decides the
vote (:mod:`ttrl_trl.vote.group_vote`), so every rank receives the very same rewards through the
existing all-gather, and none of them calls math-verify again (the vote's clusters already say
which answers are equivalent).

Rewards, for the ``n`` votes of one prompt (all ``n_votes_per_prompt`` of them, not only the
ones kept for training), with ``c(i)`` the answer cluster of vote ``i`` and ``|c|`` its size:

* ``majority`` (TTRL, arXiv 2504.16084): ``r_i = 1`` if ``c(i)`` is the winning cluster, else
  ``0``; no answer gives 0.
* ``soft`` (EMPO, "Right Question is Already Half the Answer", arXiv 2504.05812, Sec. 3:
  ``r_i = p(c_j | q)`` for ``o_i`` in cluster ``c_j``, with ``p(c_j | q) ~ |c_j| / G``):
  ``r_i = |c(i)| / n``, the share of *all* ``n`` votes in the completion's own cluster; no answer
  (or an answer math-verify cannot parse) gives 0. A unanimous prompt gives every vote 1, like
  ``majority``; a split prompt ranks the runner-up clusters above the stragglers instead of
  treating every non-majority answer alike.

Consensus band (SRT, arXiv 2505.21444, which trains on the most self-consistent prompts; EMPO's
entropy band ``delta_low < H < delta_high``, here on the majority ratio, which the trainer
already logs): a prompt whose winning cluster holds a share of its votes outside
``[min_majority_ratio, max_majority_ratio]`` gets vote reward 0 for every vote: its pseudo-label
is too unreliable (below) or already too settled (above) to learn from. The vote then adds no
GRPO advantage; the advantage is exactly zero only when the vote is the sole reward function
(extra TRL reward functions still score those completions, and the KL term acts when ``beta > 0``).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ttrl_trl.vote.voting import VoteResult

VOTE_REWARDS = ("majority", "soft")
"""The values ``TTRLConfig.vote_reward`` accepts."""
CONTROL_REWARDS = ("oracle", "random")
"""The values ``TTRLConfig.control_reward`` accepts: efficacy controls that replace the vote's reward.

* ``oracle``: 1 if the completion's answer is equivalent to the gold answer, else 0 -- GRPO *with*
  labels, the ceiling a label-free method approaches. It reads the gold column, which TTRL never
  does: it exists to measure TTRL against, never to train a model you report as label-free.
* ``random``: an independent Bernoulli(0.5) per completion, whatever it says (the control of
  Spurious Rewards, arXiv 2506.10947): what training gains without any signal in the reward.
"""


def vote_rewards(vote: VoteResult, kind: str = "majority") -> tuple[float, ...]:
    """One reward per vote (``vote.answers`` order), as the module docstring defines ``kind``."""
    if kind == "majority":
        return tuple(1.0 if match else 0.0 for match in vote.matches)
    if kind == "soft":
        n = len(vote.answers)
        sizes = Counter(c for c in vote.clusters if c is not None)
        return tuple(0.0 if c is None else sizes[c] / n for c in vote.clusters)
    raise ValueError(f"vote_reward must be one of {VOTE_REWARDS}, got {kind!r}")


def outside_band(ratio: float, min_ratio: float = 0.0, max_ratio: float = 1.0) -> bool:
    """Whether a prompt's majority ratio falls outside the (inclusive) consensus band."""
    return ratio < min_ratio or ratio > max_ratio


@dataclass(frozen=True)
class RewardRule:
    """How a decided vote becomes per-vote rewards: ``TTRLConfig.vote_reward`` and its consensus band."""

    kind: str = "majority"
    min_majority_ratio: float = 0.0
    max_majority_ratio: float = 1.0
    control: str | None = None
    """``TTRLConfig.control_reward``: ``oracle`` / ``random`` replace the vote's reward (see ``CONTROL_REWARDS``)."""
    rng: random.Random | None = field(default=None, compare=False, repr=False)
    """The ``random`` control's draws (one generator per process, seeded by the run's seed and rank)."""

    @classmethod
    def from_config(cls, args: Any, rank: int = 0) -> RewardRule:
        control = getattr(args, "control_reward", None)
        rng = random.Random(f"{args.seed}-random-control-{rank}") if control == "random" else None
        return cls(args.vote_reward, args.min_majority_ratio, args.max_majority_ratio, control, rng)

    def apply(
        self, vote: VoteResult, truth: Any = None, key: str | None = None, step: int | None = None
    ) -> tuple[tuple[float, ...], bool]:
        """(one reward per vote, whether the prompt fell outside the band and so got 0 everywhere).

        ``truth`` (the gold answer), ``key`` (the prompt digest) and ``step`` arrive on the rank that
        decides the vote; the label-free rules here use none of them. The ``oracle`` control needs the
        gold answer graded, so :func:`~ttrl_trl.vote.group_vote.grade_vote` sets its rewards; ``random``
        draws here, independently of what each vote says.
        """
        if self.control == "random":
            rng = self.rng or random.Random(0)
            return tuple(float(rng.random() < 0.5) for _ in vote.answers), False
        if outside_band(vote.ratio, self.min_majority_ratio, self.max_majority_ratio):
            return (0.0,) * len(vote.answers), True
        return vote_rewards(vote, self.kind), False


def answer_entropy(vote: VoteResult) -> float:
    """Entropy (nats) of the vote's distribution over answer clusters, no-answers as one more outcome.

    0 when every vote says the same thing; ``ln(n)`` when all ``n`` votes differ. Votes with no
    (parseable) answer are pooled into a single "no answer" outcome, so a prompt whose samples
    all fail to answer reads 0 too: watch ``ttrl/no_answer_rate`` beside it.
    """
    n = len(vote.answers)
    if not n:
        return 0.0
    counts = Counter(vote.clusters or [None] * n)
    return -sum(k / n * math.log(k / n) for k in counts.values())


def check_control_reward(control_reward: str | None) -> None:
    """Refuse an unknown control, naming the field and what it accepts."""
    if control_reward is not None and control_reward not in CONTROL_REWARDS:
        raise ValueError(
            f"control_reward must be one of {', '.join(CONTROL_REWARDS)} or None (TTRL's own reward); "
            f"got {control_reward!r}."
        )


def check_vote_reward_options(vote_reward: str, min_majority_ratio: float, max_majority_ratio: float) -> None:
    """Refuse an unknown reward or an impossible band, naming the field and what it accepts."""
    if vote_reward not in VOTE_REWARDS:
        raise ValueError(f"vote_reward must be one of {', '.join(VOTE_REWARDS)}; got {vote_reward!r}.")
    for name, value in (("min_majority_ratio", min_majority_ratio), ("max_majority_ratio", max_majority_ratio)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1] (a share of the votes); got {value}.")
    if min_majority_ratio > max_majority_ratio:
        raise ValueError(
            f"min_majority_ratio ({min_majority_ratio}) must be <= max_majority_ratio ({max_majority_ratio}): "
            "the consensus band would be empty and no prompt would train. Lower min_majority_ratio or raise "
            "max_majority_ratio (both in [0, 1])."
        )
