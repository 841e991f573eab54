"""The vote sampler: draws one batch's votes, decides each group's vote once across ranks, picks the trained ones.

Nothing here imports TRL. The trainer injects what depends on it: ``generate(rows, n)`` (TRL's own
generation call: one completion per row, with its ids and sampling log-probs), ``decode``, the
all-gather (``gather``, with the semantics of accelerate's ``gather_object``: every rank's list,
concatenated in rank order), the rank and the world size; and gets back ONE :class:`VoteSample`:
the kept completions with their sampling log-probs and rewards, every group's vote, and the
statistics it logs. The same protocol runs in-process in the tests, with a fake ``generate`` and W
"ranks" as threads.

Layout. The generation batch is TRL's: globally, consecutive blocks of ``num_generations`` (G)
copies of one prompt, rank ``r`` holding global slots ``[r*B, (r+1)*B)``; group ``j`` owns slots
``[j*G, (j+1)*G)``, possibly on several ranks. Votes are drawn in rounds of that layout and a
group's votes are listed round by round (round 0's slots first), so slot ``s``'s round ``t`` is
vote ``t * G + s % G``. Every rank makes the same generation calls with the same number of rows
(ZeRO-3, FSDP and vLLM server mode need it) and the same gathers.

Two strategies behind :class:`VoteStrategy`: :class:`FullVote` (every round for every slot, one
random round kept per slot) and :class:`AdaptiveVote` (the trained round first, more rounds only
for the groups whose vote has not settled). Each group is decided on exactly one rank
(:func:`~ttrl_trl.vote.group_vote.decide_group_votes`), where the reward rule gets the group's
gold answer (metrics, or a control that needs it), its prompt key and the step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ttrl_trl.vote.adaptive import vote_until_settled
from ttrl_trl.vote.group_vote import MAJORITY, Answers, GroupVote, decide_group_votes, vote_group
from ttrl_trl.vote.label_history import prompt_key
from ttrl_trl.vote.rewards import RewardRule
from ttrl_trl.vote.voting import extract_answer

TokenIds = list[int]
Candidate = tuple[TokenIds, Any]
"""One drawn completion: its token ids and its sampling log-probs (``None`` when the backend gives none)."""
GenerateFn = Callable[[list[TokenIds], int], tuple[list[TokenIds], list[Any] | None]]
"""``generate(rows, n)``: one completion per row; rows come in blocks of ``n`` copies of one prompt."""
DecodeFn = Callable[[list[TokenIds]], list[str]]
GatherFn = Callable[[list[Any]], list[Any]]


@dataclass(frozen=True)
class GroupContext:
    """What the deciding rank knows about a group besides its answers: handed to the reward rule."""

    truth: Any
    """The gold answer (``None`` without one): graded for the metrics only, never rewarded by the vote rules."""
    key: str
    """The prompt's digest (:func:`~ttrl_trl.vote.label_history.prompt_key`)."""
    step: int


@dataclass(frozen=True)
class VoteStats:
    """What the vote cost, over all ranks (the same on every rank)."""

    generated_tokens: int
    """Tokens of every completion drawn for the vote, vote-only ones included; padding rows excluded."""
    generated_completions: int
    """Completions drawn for the vote; padding rows excluded."""
    padding_rows: int = 0
    """Rows generated only so that every rank's call has the same size, then dropped: counted nowhere above."""
    generate_calls: int = 0
    """Generation calls per rank (every rank makes the same calls)."""
    settled_fraction: float | None = None
    """Adaptive voting: the share of groups settled on the first call's votes (the trained round's by default)."""


@dataclass(frozen=True)
class VoteSample:
    """One batch's vote: what the trainer trains on, and what it logs."""

    completion_ids: list[TokenIds]
    """The kept completion of every local slot, in the batch's order."""
    logprobs: list[Any] | None
    """Their sampling log-probs (``None`` when the backend gives none)."""
    rewards: list[float]
    """Their vote rewards, as the rank that decided their group computed them."""
    votes: list[GroupVote]
    """Every global group's vote, identical on every rank."""
    keys: list[str]
    """Every global group's prompt key."""
    drawn: list[list[Candidate]]
    """Every local slot's drawn completions, in round order (the kept one among them)."""
    stats: VoteStats
    adaptive: bool = False
    """Whether groups may hold fewer votes than the full vote (then ``maj@n`` / ``pass@n`` are not what they measure)."""


@dataclass
class VoteBatch:
    """One call's inputs and the state the strategies share: local rows, gold answers, the gathered context."""

    prompt_ids: list[TokenIds]
    truths: list[Any]
    num_generations: int
    step: int
    seed: int
    contexts: list[GroupContext] | None = None
    tokens: int = 0
    completions: int = 0
    padding_rows: int = 0
    calls: int = 0
    settled_fraction: float | None = None
    unshared: list[int] = field(default_factory=lambda: [0, 0, 0])
    """Tokens, completions and padding rows drawn here since the last :meth:`VoteSampler.share`."""

    @property
    def size(self) -> int:
        return len(self.prompt_ids)


@dataclass(frozen=True)
class Drawn:
    """What a strategy returns: each local slot's candidates, every group's vote, the round kept per slot."""

    candidates: list[list[Candidate]]
    votes: list[GroupVote]
    picks: list[int]


class VoteStrategy(Protocol):
    adaptive: bool

    def draw(self, sampler: VoteSampler, batch: VoteBatch) -> Drawn: ...


class VoteSampler:
    """Draws a batch's vote with injected generation and collectives (see the module docstring)."""

    def __init__(
        self,
        generate: GenerateFn,
        decode: DecodeFn,
        gather: GatherFn,
        rank: int = 0,
        world_size: int = 1,
        rule: RewardRule = MAJORITY,
        extract: Callable[[str], str | None] = extract_answer,
    ) -> None:
        self._generate, self._decode, self.gather = generate, decode, gather
        self.rank, self.world_size, self.rule, self._extract = rank, world_size, rule, extract

    def sample(
        self,
        prompt_ids: Sequence[TokenIds],
        strategy: VoteStrategy,
        num_generations: int,
        truths: Sequence[Any] | None = None,
        step: int = 0,
        seed: int = 0,
    ) -> VoteSample:
        """The vote of this rank's ``prompt_ids`` (one row per slot, TRL's layout); a collective call.

        ``truths`` holds each local slot's gold answer (metrics only; ``None`` for none).
        """
        prompt_ids = list(prompt_ids)
        if (self.world_size * len(prompt_ids)) % num_generations:
            raise ValueError(f"{self.world_size} x {len(prompt_ids)} slots do not split into groups of {num_generations}")
        truths = [None] * len(prompt_ids) if truths is None else list(truths)
        batch = VoteBatch(prompt_ids, truths, num_generations, step, seed)
        drawn = strategy.draw(self, batch)
        offset, g = self.rank * batch.size, num_generations
        kept = [drawn.candidates[i][t] for i, t in enumerate(drawn.picks)]
        rewards = [
            drawn.votes[(offset + i) // g].rewards[t * g + (offset + i) % g] for i, t in enumerate(drawn.picks)
        ]
        logprobs = None if kept and kept[0][1] is None else [lp for _, lp in kept]
        stats = VoteStats(
            batch.tokens, batch.completions, batch.padding_rows, batch.calls, batch.settled_fraction
        )
        keys = [c.key for c in batch.contexts or []]
        return VoteSample(
            [ids for ids, _ in kept], logprobs, rewards, drawn.votes, keys, drawn.candidates, stats, strategy.adaptive
        )

    # ------------------------------------------------------------------ for the strategies
    def generate(self, batch: VoteBatch, rows: list[TokenIds], n: int, keep: int | None = None) -> list[Candidate]:
        """One generation call; the first ``keep`` rows (all by default) are real, the rest padding to drop."""
        ids, logprobs = self._generate(rows, n)
        keep = len(rows) if keep is None else keep
        batch.calls += 1
        batch.unshared[0] += sum(len(c) for c in ids[:keep])
        batch.unshared[1] += keep
        batch.unshared[2] += len(rows) - keep
        return [(ids[k], None if logprobs is None else logprobs[k]) for k in range(keep)]

    def answers(self, candidates: Sequence[Candidate]) -> Answers:
        return [self._extract(text) for text in self._decode([ids for ids, _ in candidates])]

    def share(self, batch: VoteBatch, local: Any) -> list[Any]:
        """All-gather one value per rank (rank order), with the counts drawn since the last share and, the first
        time, every slot's gold answer and prompt key (so ``batch.contexts`` holds every group's)."""
        first = batch.contexts is None
        context = list(zip(batch.truths, map(prompt_key, batch.prompt_ids), strict=True)) if first else None
        per_rank = self.gather([(local, tuple(batch.unshared), context)])
        batch.unshared = [0, 0, 0]
        for _, (tokens, completions, padding), _ in per_rank:
            batch.tokens, batch.completions = batch.tokens + tokens, batch.completions + completions
            batch.padding_rows += padding
        if first:
            slots = [slot for _, _, rank_context in per_rank for slot in rank_context]
            groups = slots[:: batch.num_generations]
            truths = [t for t, _ in groups]
            known = bool(truths) and all(t is not None for t in truths)  # gold for every group, or none is graded
            batch.contexts = [GroupContext(t if known else None, k, batch.step) for t, k in groups]
        return [value for value, _, _ in per_rank]

    def decide(
        self, batch: VoteBatch, groups: Sequence[int], answers: Sequence[Answers], vote: Callable[..., GroupVote]
    ) -> list[GroupVote]:
        """The votes of ``groups`` (global indices), each decided on one rank by ``vote(answers, context)``."""
        contexts = [batch.contexts[j] for j in groups]
        return decide_group_votes(answers, contexts, self.rank, self.world_size, self.gather, vote=vote)


def slot_answers_by_group(slots: Sequence[Sequence[str | None]], num_generations: int) -> list[Answers]:
    """Every group's answers in vote order (round by round), from every global slot's answers in round order."""
    return [_round_major(slots[j : j + num_generations]) for j in range(0, len(slots), num_generations)]


def _round_major(slot_answers: Sequence[Sequence[str | None]]) -> Answers:
    """A group's answers in vote order: every slot's round 0, then every slot's round 1, ..."""
    return [answers[t] for t in range(len(slot_answers[0])) for answers in slot_answers]


@dataclass(frozen=True)
class FullVote:
    """Every slot gets ``rounds`` candidates, drawn ``rounds_per_call`` rounds per generation call; one kept at random.

    A call over ``c`` rounds lists each slot ``c`` times back to back (:func:`repeat_slots`) and
    asks for ``num_generations * c`` per prompt, so the global layout stays consecutive blocks of
    copies of one prompt: vLLM server mode (which keeps every ``n``-th prompt of the gathered
    list and slices the results by position) serves each block with samples of its own prompt
    whether a group spans ranks or not. Each slot keeps one candidate at random, seeded by
    (seed, step, rank): every completion is kept with probability ``1 / rounds`` whatever it says.
    """

    rounds: int
    rounds_per_call: int = 1
    adaptive: bool = False

    def draw(self, sampler: VoteSampler, batch: VoteBatch) -> Drawn:
        g, rounds = batch.num_generations, self.rounds
        per_call = max(1, min(self.rounds_per_call, rounds))
        by_round: list[list[Candidate]] = []
        for first in range(0, rounds, per_call):
            c = min(per_call, rounds - first)
            drawn = sampler.generate(batch, repeat_slots(batch.prompt_ids, c), g * c)
            by_round.extend(split_rounds(drawn, c))
        # Extract answers where the completions live; every rank sends its answers in one gather.
        candidates = [[by_round[t][i] for t in range(rounds)] for i in range(batch.size)]
        local = [sampler.answers(round_candidates) for round_candidates in by_round]
        per_rank = sampler.share(batch, local)
        slots = [[rank_answers[t][i] for t in range(rounds)] for rank_answers in per_rank for i in range(batch.size)]
        rule = sampler.rule
        votes = sampler.decide(
            batch,
            range(len(slots) // g),
            slot_answers_by_group(slots, g),
            lambda answers, ctx: vote_group(answers, ctx.truth, rule, key=ctx.key, step=ctx.step),
        )
        rng = random.Random(f"{batch.seed}-{batch.step}-{sampler.rank}")
        return Drawn(candidates, votes, [rng.randrange(rounds) for _ in range(batch.size)])


@dataclass(frozen=True)
class AdaptiveVote:
    """The trained round for every slot, then more rounds only for the groups not settled yet.

    After each call every pending group is voted on once across ranks
    (:func:`~ttrl_trl.vote.adaptive.vote_until_settled`); a group is final when its leader is
    ahead with posterior probability ``confidence`` or it has ``rounds * G`` votes. Nothing more
    is drawn once every group is final (often right after the trained round). Each further call
    covers just the unsettled slots, one sample per row (``n = 1``, so vLLM server mode keeps
    every row); a rank with fewer such slots than another pads with copies of its own rows and
    drops their outputs (counted as padding, not as votes).

    A call holds at most ``rounds_per_call`` rounds of the batch (``B * rounds_per_call`` rows,
    the full vote's call size). The first call draws ``rounds_per_call`` rounds for every slot (1
    by default: the rule saves the votes it does not draw; more where a call's fixed cost
    dominates, at the price of those votes). Small rounds are merged: unsettled slots that fill
    at most half of a call draw as many of their remaining rounds as fit in one, since a call's
    time barely grows with rows below that size while every call costs a full pass of sequential
    decoding. The trained completions are round 0's: drawn before any stop decision, so which
    completions are trained cannot depend on what they say.
    """

    rounds: int
    confidence: float
    rounds_per_call: int = 1
    adaptive: bool = True

    def draw(self, sampler: VoteSampler, batch: VoteBatch) -> Drawn:
        g, size, rank, world = batch.num_generations, batch.size, sampler.rank, sampler.world_size
        first = max(1, min(self.rounds_per_call, self.rounds))
        by_round = split_rounds(sampler.generate(batch, repeat_slots(batch.prompt_ids, first), g * first), first)
        candidates = [[by_round[t][i] for t in range(first)] for i in range(size)]
        flat = sampler.answers([c for slot in candidates for c in slot])
        answers = [flat[i * first : (i + 1) * first] for i in range(size)]
        num_groups = world * size // g
        rule, confidence, max_votes = sampler.rule, self.confidence, self.rounds * g
        budget = size * max(1, self.rounds_per_call)

        def decide(group_answers: Answers, ctx: GroupContext) -> GroupVote:
            return vote_until_settled(group_answers, ctx.truth, confidence, max_votes, rule, key=ctx.key, step=ctx.step)

        final: dict[int, GroupVote] = {}
        while True:
            slots = [a for rank_answers in sampler.share(batch, [list(a) for a in answers]) for a in rank_answers]
            pending = [j for j in range(num_groups) if j not in final]
            results = sampler.decide(batch, pending, [_round_major(slots[j * g : (j + 1) * g]) for j in pending], decide)
            final.update((j, result) for j, result in zip(pending, results) if result.settled)
            if batch.settled_fraction is None:  # after the first call (the trained round, by default)
                batch.settled_fraction = len(final) / num_groups
            open_by_rank = [[i for i in range(size) if (r * size + i) // g not in final] for r in range(world)]
            rows = max(map(len, open_by_rank))
            if rows == 0:
                return Drawn(candidates, [final[j] for j in range(num_groups)], [0] * size)
            # Every open group has drawn the same number of rounds (all were extended by every call so far).
            left = self.rounds - len(slots[next(j for j in range(num_groups) if j not in final) * g])
            copies = min(left, max(1, budget // rows))
            mine = open_by_rank[rank]
            padded = mine + [mine[0] if mine else 0] * (rows - len(mine))
            rows_ids = repeat_slots([batch.prompt_ids[i] for i in padded], copies)
            drawn = sampler.generate(batch, rows_ids, 1, keep=len(mine) * copies)
            new_answers = sampler.answers(drawn)
            for m, i in enumerate(mine):
                candidates[i].extend(drawn[m * copies : (m + 1) * copies])
                answers[i].extend(new_answers[m * copies : (m + 1) * copies])


def repeat_slots(prompt_ids: Sequence[Any], copies: int) -> list[Any]:
    """Each slot ``copies`` times back to back: one call draws ``copies`` rounds in a dedup-safe layout."""
    return [ids for ids in prompt_ids for _ in range(copies)]


def split_rounds(outputs: Sequence[Any] | None, copies: int) -> list[Any]:
    """Undo :func:`repeat_slots` on the outputs: ``copies`` lists, each with one output per slot (or Nones)."""
    if outputs is None:
        return [None] * copies
    return [list(outputs[t::copies]) for t in range(copies)]
