"""One vote per prompt group, decided on exactly one rank and shared with all.

After the answers of every rank are gathered, each prompt group (the ``num_generations`` slots
that share a prompt, possibly spread over several ranks, times the vote rounds) must get one
pseudo-label that every rank rewards against. If every rank voted on every group, a math-verify
comparison that times out on one rank only (a timeout counts as "not equivalent", and is
cached) could give that rank another label than the others: one group scored against two
labels. So group ``j`` is voted on by rank ``j % world_size`` alone, and the results (label,
matches, ratio, and the ground-truth grades used only for metrics) are all-gathered. Every rank
then holds the very same list by construction, and the CPU work is shared instead of repeated
``world_size`` times. The per-vote rewards (:mod:`ttrl_trl.vote.rewards`: ``majority`` or
``soft``, and the consensus band) are computed there too, so they travel with the vote.

Layout. TRL's generation batch is laid out globally as consecutive blocks of ``num_generations``
copies of one prompt (rank ``r`` holds global slots ``[r*B, (r+1)*B)``). Votes are drawn in
rounds of that layout, so group ``j`` owns slots ``[j*G, (j+1)*G)`` of every round, and its
answers are listed round by round (round 0's slots first); ties go to the answer seen first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ttrl_trl.vote.rewards import RewardRule, vote_rewards
from ttrl_trl.vote.voting import VoteResult, is_correct, vote_on_answers

Answers = list[str | None]
MAJORITY = RewardRule()
"""TTRL's own rule: 1 for a vote in the winning cluster, else 0; no band."""
GatherFn = Callable[[list[Any]], list[Any]]
"""``accelerate.utils.gather_object``: every rank's list, concatenated in rank order."""


@dataclass(frozen=True)
class GroupVote:
    """The vote of one prompt group, its per-vote rewards, plus ground-truth grades that only feed the logged metrics."""

    vote: VoteResult
    correct: tuple[bool, ...] | None = None
    """Per vote (same order as ``vote.answers``): is it equivalent to the gold answer? ``None`` without gold."""
    label_correct: bool | None = None
    rewards: tuple[float, ...] = ()
    """Per vote, the reward a completion with that answer gets; empty means ``majority`` (1 per match)."""
    filtered: bool = False
    """The majority ratio fell outside the consensus band: every vote reward is 0 (zero advantage only if the vote
    is the sole reward function)."""
    settled: bool = True
    """False only for an adaptive vote that wants another round (:mod:`ttrl_trl.vote.adaptive`)."""

    def __post_init__(self) -> None:
        if not self.rewards:
            object.__setattr__(self, "rewards", vote_rewards(self.vote, "majority"))


def group_answers(answers_per_round: Sequence[Sequence[str | None]], group: int, num_generations: int) -> Answers:
    """The answers of group ``group`` over all rounds (each round holds every global slot in order)."""
    block = slice(group * num_generations, (group + 1) * num_generations)
    return [answer for answers in answers_per_round for answer in answers[block]]


def groups_of_rank(num_groups: int, rank: int, world_size: int) -> list[int]:
    """The groups that rank ``rank`` votes on: ``j % world_size == rank``."""
    return list(range(rank, num_groups, world_size))


def vote_group(
    answers: Answers, truth: Any = None, rule: RewardRule = MAJORITY, key: str | None = None, step: int | None = None
) -> GroupVote:
    """Vote on one group's answers, reward each vote by ``rule``, and grade them against ``truth`` (metrics only)."""
    return grade_vote(vote_on_answers(answers), truth, rule, key=key, step=step)


def grade_vote(
    vote: VoteResult, truth: Any = None, rule: RewardRule = MAJORITY, key: str | None = None, step: int | None = None
) -> GroupVote:
    """A decided vote with its per-vote rewards, and its answers and label graded against ``truth`` (metrics only).

    ``rule`` also receives the group's ``truth``, prompt ``key`` and ``step`` (the sampler passes them on the
    deciding rank), so a rule that needs them (a control, a seeded draw) lives in the rule.
    """
    if rule.control == "oracle" and truth is None:
        raise ValueError(
            "control_reward='oracle' rewards correctness against the gold answer, but this prompt has none: use a "
            "dataset whose ground_truth_column holds every answer, or unset control_reward."
        )
    rewards, filtered = rule.apply(vote, truth=truth, key=key, step=step)
    if truth is None:
        return GroupVote(vote, rewards=rewards, filtered=filtered)
    gold = str(truth)
    correct = tuple(is_correct(a, gold) for a in vote.answers)
    if rule.control == "oracle":  # GRPO with labels: the efficacy protocol's ceiling, never TTRL
        rewards, filtered = tuple(float(c) for c in correct), False
    return GroupVote(vote, correct, is_correct(vote.label, gold), rewards=rewards, filtered=filtered)


def decide_group_votes(
    answers_by_group: Sequence[Answers],
    truths: Sequence[Any] | None,
    rank: int,
    world_size: int,
    gather: GatherFn,
    vote: Callable[[Answers, Any], GroupVote] = vote_group,
) -> list[GroupVote]:
    """Every group's vote, decided once (the ``j``-th group on rank ``j % world_size``), identical on every rank.

    ``answers_by_group[j]`` holds group ``j``'s answers in vote order (see :func:`group_answers`);
    ``truths`` one value per group (or ``None``), handed to ``vote`` as its second argument: the gold
    answer, or a context holding it (the sampler's :class:`~ttrl_trl.vote.sampler.GroupContext`). ``gather`` is a collective: every rank must
    call this function with the same groups.
    """
    num_groups = len(answers_by_group)
    if truths is not None and len(truths) != num_groups:
        raise ValueError(f"{len(truths)} gold answers for {num_groups} prompt groups")
    mine = [
        (j, vote(list(answers_by_group[j]), None if truths is None else truths[j]))
        for j in groups_of_rank(num_groups, rank, world_size)
    ]
    decided = dict(gather(mine))
    if sorted(decided) != list(range(num_groups)):
        raise RuntimeError(f"group votes missing after the gather: got groups {sorted(decided)} of {num_groups}")
    return [decided[j] for j in range(num_groups)]


def answers_by_group(answers_per_round: Sequence[Sequence[str | None]], num_generations: int) -> list[Answers]:
    """Split rounds of global slots into each group's answers (round 0's slots first)."""
    num_slots = len(answers_per_round[0])
    if num_slots % num_generations:
        raise ValueError(f"{num_slots} slots do not split into groups of num_generations={num_generations}")
    return [group_answers(answers_per_round, j, num_generations) for j in range(num_slots // num_generations)]
