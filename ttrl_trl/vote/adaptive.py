"""Adaptive voting: stop drawing votes for a prompt once its leading answer is clearly ahead.

Adaptive-Consistency (Aggarwal, Madaan, Yang, Mausam, 2023, arXiv 2305.11860) stops sampling a
question when a Beta posterior says the leading answer beats the runner-up: with ``a`` and ``b``
the counts of the two largest answer clusters so far,

    P(p_leader > p_second) = P(X > 1/2),   X ~ Beta(a + 1, b + 1),

and sampling stops once that probability is at least ``C`` (0.95 in its code). For integer
parameters the Beta tail is a binomial sum, so no special function is needed:

    P(X > 1/2) = P(Binomial(a + b + 1, 1/2) <= a) = 2^-(a+b+1) * sum_{k<=a} C(a+b+1, k).

"No answer" never counts as a cluster, so a prompt whose votes are all unanswered never settles
(it draws the full ``n_votes_per_prompt``, where the plain vote would give it no label either).
TTRL draws votes in rounds of ``num_generations`` per prompt: the trained round first, then one
round at a time for the prompts that have not settled, up to ``n_votes_per_prompt``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ttrl_trl.vote.group_vote import MAJORITY, Answers, GroupVote, grade_vote
from ttrl_trl.vote.rewards import RewardRule
from ttrl_trl.vote.voting import VoteResult, vote_on_answers


def leader_confidence(leader: int, runner_up: int) -> float:
    """P(p_leader > p_second) under Beta(leader + 1, runner_up + 1): the binomial form above."""
    if leader < 0 or runner_up < 0:
        raise ValueError("cluster counts must be non-negative")
    n = leader + runner_up + 1
    return sum(math.comb(n, k) for k in range(leader + 1)) / 2**n


def top_two_counts(vote: VoteResult) -> tuple[int, int]:
    """Sizes of the two largest answer clusters of a vote (0 where there is none); no-answers excluded.

    Read from the vote's own clusters: no answer is compared again.
    """
    sizes = sorted(Counter(c for c in vote.clusters if c is not None).values(), reverse=True) + [0, 0]
    return sizes[0], sizes[1]


def is_settled(vote: VoteResult, confidence: float) -> bool:
    """Whether the vote's leader beats its runner-up with posterior probability at least ``confidence``."""
    leader, runner_up = top_two_counts(vote)
    return leader > 0 and leader_confidence(leader, runner_up) >= confidence


def vote_until_settled(
    answers: Answers,
    truth: Any,
    confidence: float,
    max_votes: int,
    rule: RewardRule = MAJORITY,
    key: str | None = None,
    step: int | None = None,
) -> GroupVote:
    """One adaptive round's decision for a group: its vote, and whether it is final.

    Final when the stop rule holds or the group has all ``max_votes`` votes; only a final vote is
    rewarded (by ``rule``, which also gets ``truth``, ``key`` and ``step``) and graded against ``truth``
    (metrics only), so a group is graded once, however many rounds it took.
    """
    vote = vote_on_answers(answers)
    settled = len(answers) >= max_votes or is_settled(vote, confidence)
    return grade_vote(vote, truth, rule, key=key, step=step) if settled else GroupVote(vote, settled=False)


def replay_stop_rule(answers: Sequence[str | None], round_size: int, confidence: float) -> tuple[int, str | None]:
    """Votes the rule would have drawn, and its label, replayed on a prompt's full vote in draw order."""
    answers = list(answers)
    for used in range(round_size, len(answers) + 1, round_size):
        vote = vote_on_answers(answers[:used])
        if used == len(answers) or is_settled(vote, confidence):
            return used, vote.label
    return len(answers), vote_on_answers(answers).label
