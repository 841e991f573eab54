"""The vote sampler on its own: a fake ``generate``, W "ranks" as threads, no model, no processes.

Every layout the trainer tests use, and every small one TRL accepts (world size 1 to 4), for the
full vote (one round per call, and several) and adaptive voting. The checks recompute every
group's vote from all ranks' draws, independently of the sampler, and compare.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from helpers import run_ranks
from helpers import small_layouts as _layouts

from ttrl_trl.vote.label_history import prompt_key
from ttrl_trl.vote.rewards import RewardRule
from ttrl_trl.vote.sampler import AdaptiveVote, FullVote, VoteSampler
from ttrl_trl.vote.voting import answers_equivalent, vote_on_answers

ANSWERS = ["7", "1", "2", "1/2", "0.5", "3", "5", None]
# What each prompt says, by prompt id modulo 4: unanimous (settles at once), split with no-answers (rarely
# settles), 1/2 vs 0.5 (one cluster only by math equivalence), a clear leader.
STYLES = [("7",), ("1", "2", None), ("1/2", "0.5", "3"), ("3", "3", "3", "5")]


class FakeEngine:
    """``generate(rows, n)`` of one rank: completion ``[prompt, serial, answer index]``, log-probs ``[serial]``."""

    def __init__(self, rank: int) -> None:
        self.rng = random.Random(rank)
        self.serial = 1000 * rank
        self.calls: list[tuple[int, int]] = []  # (rows, n) per call

    def generate(self, rows: list[list[int]], n: int) -> tuple[list[list[int]], list[list[float]]]:
        self.calls.append((len(rows), n))
        ids = []
        for row in rows:
            choices = STYLES[row[0] % len(STYLES)]
            self.serial += 1
            ids.append([row[0], self.serial, ANSWERS.index(self.rng.choice(choices))] + [0] * (row[0] % 3))
        return ids, [[float(c[1])] for c in ids]


def decode(ids: list[list[int]]) -> list[str]:
    texts = []
    for c in ids:
        answer = ANSWERS[c[2]]
        texts.append(f"P{c[0]} #{c[1]} " + (f"\\boxed{{{answer}}}" if answer else "no idea"))
    return texts


@dataclass(frozen=True)
class RecordingRule(RewardRule):
    """The majority rule, recording (thread, truth, key, step) of every reward computation."""

    def apply(self, vote, truth=None, key=None, step=None):
        RULE_CALLS.append((threading.current_thread().name, truth, key, step, tuple(vote.answers)))
        return super().apply(vote, truth=truth, key=key, step=step)


RULE_CALLS: list = []


def _run(world, rows, group, strategy, truths=True, step=3, seed=11):
    """Run the sampler on ``world`` threads; per rank: (engine, its rows, its VoteSample)."""
    prompts = [[100 + slot // group] for slot in range(world * rows)]  # TRL's layout: blocks of G copies
    RULE_CALLS.clear()

    def body(rank, gather):
        engine = FakeEngine(rank)
        mine = prompts[rank * rows : (rank + 1) * rows]
        sampler = VoteSampler(engine.generate, decode, gather, rank, world, rule=RecordingRule())
        gold = [str(ids[0] % 5) for ids in mine] if truths else None
        return engine, mine, sampler.sample(mine, strategy, group, gold, step=step, seed=seed)

    return run_ranks(world, body)


def _check(results, world, rows, group, max_rounds):
    """Every invariant of a sample, checked against votes recomputed from all ranks' draws."""
    samples = [sample for _, _, sample in results]
    assert all(s.votes == samples[0].votes and s.keys == samples[0].keys for s in samples)  # identical on every rank
    num_groups = world * rows // group
    assert len(samples[0].votes) == num_groups
    # Each group's draws, round by round over its slots (wherever they live), and its recomputed vote.
    slots = [(rank, i, draws) for rank, (_, _, s) in enumerate(results) for i, draws in enumerate(s.drawn)]
    labels = []
    for j in range(num_groups):
        members = slots[j * group : (j + 1) * group]
        rounds = {len(draws) for _, _, draws in members}
        assert len(rounds) == 1 and 1 <= min(rounds) <= max_rounds  # whole rounds for every slot of the group
        texts = [decode([draws[t][0]])[0] for t in range(min(rounds)) for _, _, draws in members]
        assert all(text.startswith(f"P{100 + j} ") for text in texts)  # every draw is of the group's own prompt
        vote = samples[0].votes[j].vote
        recomputed = vote_on_answers([_answer(text) for text in texts])
        assert vote.matches == recomputed.matches and vote.answers == recomputed.answers
        labels.append(vote.label)
        assert samples[0].keys[j] == prompt_key([100 + j])
    # Kept completions: one of the slot's own draws, its log-probs with it, rewarded against its group's label.
    for rank, (_, mine, s) in enumerate(results):
        assert len(s.completion_ids) == len(s.rewards) == len(s.logprobs) == len(mine)
        for i, (ids, logprobs, reward) in enumerate(zip(s.completion_ids, s.logprobs, s.rewards)):
            assert any(ids == draw[0] for draw in s.drawn[i]) and logprobs == [float(ids[1])]
            label = labels[(rank * rows + i) // group]
            match = label is not None and _answer(decode([ids])[0]) is not None
            assert reward == float(match and answers_equivalent(_answer(decode([ids])[0]), label))
    # Costs: every rank made the same calls with the same rows; padding counted apart from what was drawn.
    calls = [engine.calls for engine, _, _ in results]
    assert all(c == calls[0] for c in calls)
    stats = samples[0].stats
    drawn = [draw for _, _, s in results for slot in s.drawn for draw in slot]
    assert stats.generated_completions == len(drawn)
    assert stats.generated_tokens == sum(len(ids) for ids, _ in drawn)
    assert stats.padding_rows == world * sum(r for r, _ in calls[0]) - len(drawn)
    assert stats.generate_calls == len(calls[0])
    return calls[0]


def _answer(text: str) -> str | None:
    return text.split("\\boxed{")[1][:-1] if "\\boxed{" in text else None


@pytest.mark.parametrize("per_call", [1, 2, 3])
def test_full_vote_in_every_layout(per_call):
    checked = 0
    for world, rows, group in _layouts():
        results = _run(world, rows, group, FullVote(rounds=3, rounds_per_call=per_call))
        calls = _check(results, world, rows, group, max_rounds=3)
        # Rounds drawn per_call at a time: each call has rows * c rows and asks for G * c per prompt.
        chunks = [min(per_call, 3 - first) for first in range(0, 3, per_call)]
        assert calls == [(rows * c, group * c) for c in chunks]
        assert all(len(slot) == 3 for _, _, s in results for slot in s.drawn)
        assert results[0][2].stats.padding_rows == 0 and not results[0][2].adaptive
        # Each group's reward computed once, on the rank that decides it (j % world), with its key and step.
        decided = Counter(key for _, _, key, _, _ in RULE_CALLS)
        assert sorted(decided) == sorted(results[0][2].keys) and set(decided.values()) == {1}
        for thread, truth, key, step, _ in RULE_CALLS:
            j = results[0][2].keys.index(key)
            assert int(thread) == j % world and truth == str((100 + j) % 5) and step == 3
        checked += 1
    assert checked == 79


def test_full_vote_keeps_a_random_round_seeded_by_seed_step_and_rank():
    """Bit for bit what the trainer always kept: ``random.Random(f"{seed}-{step}-{rank}")``, one draw per slot."""
    results = _run(2, 8, 4, FullVote(rounds=4), step=5, seed=7)
    picks = []
    for rank, (_, _, s) in enumerate(results):
        kept = [next(t for t, draw in enumerate(slot) if draw[0] == ids) for slot, ids in zip(s.drawn, s.completion_ids)]
        rng = random.Random(f"7-5-{rank}")
        assert kept == [rng.randrange(4) for _ in range(8)]
        picks.extend(kept)
    assert len(set(picks)) > 1  # not always the first round


@pytest.mark.parametrize("per_call", [1, 2])
def test_adaptive_vote_in_every_layout(per_call):
    settled_at = Counter()
    for world, rows, group in _layouts():
        results = _run(world, rows, group, AdaptiveVote(rounds=4, confidence=0.9, rounds_per_call=per_call))
        calls = _check(results, world, rows, group, max_rounds=4)
        samples = [s for _, _, s in results]
        assert all(s.adaptive for s in samples)
        # The trained completions are round 0's; the first call draws per_call rounds for every slot (the
        # full vote's layout), later ones one row per sample.
        assert all(ids == slot[0][0] for s in samples for ids, slot in zip(s.completion_ids, s.drawn))
        assert calls[0] == (rows * per_call, group * per_call) and all(n == 1 for _, n in calls[1:])
        assert all(r <= rows * per_call for r, _ in calls[1:])  # merged rounds: no call larger than the budget
        # Never more work than the full vote with as many rounds per call: no more calls, no more rows (padding in).
        assert len(calls) <= -(-4 // per_call) and sum(r for r, _ in calls) <= 4 * rows
        # A group stops when its vote settles or it has every vote; each is rewarded once, when final.
        for vote in samples[0].votes:
            assert vote.settled
            assert len(vote.vote.answers) == 4 * group or _settled(vote.vote.answers, 0.9)
            settled_at[len(vote.vote.answers) // group] += 1
        assert Counter(key for _, _, key, _, _ in RULE_CALLS) == Counter(samples[0].keys)
        fraction = samples[0].stats.settled_fraction
        assert fraction == sum(len(v.vote.answers) == group * per_call for v in samples[0].votes) / len(samples[0].votes)
    # The layouts' groups settled after every possible number of rounds; with 2 rounds per call the open groups
    # (never more rows than the batch) draw their last 2 rounds in one call: 2 or 4 rounds.
    assert set(settled_at) == {1: {1, 2, 3, 4}, 2: {2, 4}}[per_call]


def test_adaptive_padding_rows_are_counted_apart():
    """Rank 0 holds a group that settles at once, rank 1 one that never does: rank 0 pads every extra call."""
    results = _run(2, 4, 4, AdaptiveVote(rounds=3, confidence=0.95))  # prompts 100 (unanimous), 101 (split)
    stats = results[0][2].stats
    assert [len(slot) for slot in results[0][2].drawn] == [1] * 4 and [len(slot) for slot in results[1][2].drawn] == [3] * 4
    assert results[0][0].calls == [(4, 4), (4, 1), (4, 1)]
    assert stats.padding_rows == 8 and stats.generated_completions == 16
    assert stats.generated_tokens == sum(len(d[0]) for _, _, s in results for slot in s.drawn for d in slot)
    assert stats.settled_fraction == 0.5


def test_adaptive_merges_small_rounds_up_to_a_regular_call():
    """4 unsettled slots of 8: their next two rounds in one call of 8 rows, then the last round (4 rows)."""
    results = _run(1, 8, 4, AdaptiveVote(rounds=4, confidence=0.95))  # prompt 100 unanimous (settles), 101 split
    engine, _, sample = results[0]
    assert engine.calls == [(8, 4), (8, 1), (4, 1)]
    assert [len(slot) for slot in sample.drawn] == [1] * 4 + [4] * 4
    assert [len(v.vote.answers) for v in sample.votes] == [4, 16]
    assert sample.stats.generated_completions == 20 and sample.stats.padding_rows == 0


def test_without_gold_nothing_is_graded_and_the_rule_gets_none():
    results = _run(2, 4, 4, FullVote(rounds=2), truths=False)
    assert all(v.correct is None for v in results[0][2].votes)
    assert {truth for _, truth, _, _, _ in RULE_CALLS} == {None}


def test_bad_layout_is_reported():
    with pytest.raises(ValueError, match="do not split into groups of 4"):
        VoteSampler(FakeEngine(0).generate, decode, list).sample([[1]] * 6, FullVote(rounds=1), 4)


def _settled(answers, confidence):
    from ttrl_trl.vote.adaptive import is_settled

    return is_settled(vote_on_answers(list(answers)), confidence)


def test_rewards_follow_the_rule():
    """The soft rule and the band reach the kept completions' rewards through the sampler."""
    results = _run(1, 8, 4, FullVote(rounds=2))
    soft = defaultdict(list)

    def body(rank, gather):
        engine = FakeEngine(rank)
        sampler = VoteSampler(engine.generate, decode, gather, rule=RewardRule("soft", 0.0, 0.99))
        return sampler.sample([[100]] * 4 + [[101]] * 4, FullVote(rounds=2), 4, step=3, seed=11)

    (sample,) = run_ranks(1, body)
    assert sample.votes[0].filtered and set(sample.rewards[:4]) == {0.0}  # unanimous: above the band
    for vote in sample.votes[1:]:
        sizes = Counter(vote.vote.clusters)
        soft[1] = [0.0 if c is None else sizes[c] / 8 for c in vote.vote.clusters]
        assert list(vote.rewards) == soft[1]
    assert results[0][2].votes[0].rewards == (1.0,) * 8  # the majority rule on the same prompt
