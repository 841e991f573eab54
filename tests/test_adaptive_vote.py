"""Adaptive voting: the Beta stop rule, its replay, and the trainer drawing rounds only for unsettled prompts."""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest
import trl
from helpers import ScriptedGenerator, record_vote_rewards, tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.vote.adaptive import (
    is_settled,
    leader_confidence,
    replay_stop_rule,
    top_two_counts,
    vote_until_settled,
)
from ttrl_trl.vote.rewards import RewardRule
from ttrl_trl.vote.voting import answers_equivalent, extract_answer, majority_vote, vote_on_answers


def _beta_tail_numerically(a: int, b: int, steps: int = 200_000) -> float:
    """P(X > 1/2) for X ~ Beta(a+1, b+1) by the midpoint rule: an independent check of the binomial form."""
    norm = math.gamma(a + b + 2) / (math.gamma(a + 1) * math.gamma(b + 1))
    h = 0.5 / steps
    return sum(norm * x**a * (1 - x) ** b for x in (0.5 + (k + 0.5) * h for k in range(steps))) * h


@pytest.mark.parametrize("a, b", [(10, 0), (5, 4), (3, 0), (4, 0), (7, 2), (0, 0), (12, 11)])
def test_leader_confidence_is_the_beta_posterior_tail(a, b):
    assert leader_confidence(a, b) == pytest.approx(_beta_tail_numerically(a, b), abs=1e-6)


def test_the_stop_rule_on_hand_made_counts():
    assert leader_confidence(10, 0) == 1 - 2**-11  # a 10-0 lead stops
    assert leader_confidence(5, 4) == pytest.approx(638 / 1024)  # a 5-4 race does not
    assert is_settled(vote_on_answers(["7"] * 10), 0.95)
    assert not is_settled(vote_on_answers(["7"] * 5 + ["8"] * 4), 0.95)
    assert not is_settled(vote_on_answers([None] * 64), 0.5001)  # all no-answer never settles
    assert not is_settled(vote_on_answers(["3"] * 3), 0.95) and is_settled(vote_on_answers(["3"] * 4), 0.95)


def test_top_two_counts_cluster_by_equivalence_and_skip_no_answers():
    assert top_two_counts(vote_on_answers(["1/2", "0.5", "3", None, "3", "\\frac{1}{2}"])) == (3, 2)
    assert top_two_counts(vote_on_answers(["1/2", "0.5", "3", "3"])) == (2, 2)  # a tie: first seen leads
    assert top_two_counts(vote_on_answers([None, None])) == (0, 0)


def test_vote_until_settled_grades_only_final_votes():
    pending = vote_until_settled(["1", "2", "1", "2"], truth="1", confidence=0.95, max_votes=8)
    assert pending.settled is False and pending.correct is None
    forced = vote_until_settled(["1", "2", "1", "2"], truth="1", confidence=0.95, max_votes=4)
    assert forced.settled and forced.correct == (True, False, True, False) and forced.label_correct
    clear = vote_until_settled(["5"] * 8, truth=None, confidence=0.95, max_votes=64)
    assert clear.settled and clear.vote.label == "5"


def test_replay_draws_rounds_until_the_rule_holds():
    assert replay_stop_rule(["7"] * 4 + ["8"] * 12, round_size=4, confidence=0.95) == (4, "7")
    used, label = replay_stop_rule(["7", "8"] * 8, round_size=4, confidence=0.95)
    assert used == 16 and label == "7"  # never settles: the full vote, as without the rule
    assert replay_stop_rule(["7", "8", "7", "7"] + ["7"] * 12, round_size=4, confidence=0.95) == (8, "7")


def test_trainer_draws_more_rounds_only_for_unsettled_prompts(monkeypatch, tiny_model_path, tmp_path):
    """Q0 always answers 7 (settles after the trained round); Q1 is split (draws all 16 votes)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer, choices_by_tag={"Q0": ("7",), "Q1": ("1", "2", None)})
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))

    class Spy:
        __name__ = "spy"
        calls: list = []

        def __call__(self, prompts, completions, **kwargs):
            self.calls.append((prompts, completions))
            return [0.0] * len(completions)

    spy = Spy()
    args = tiny_config(
        tmp_path / "out", n_votes_per_prompt=16, num_generations=4, vote_stop_confidence=0.95,
        reward_weights=[1.0, 0.0], shuffle_dataset=False,
    )  # fmt: skip
    trainer = TTRLTrainer(
        model=str(tiny_model_path), reward_funcs=[spy], args=args, train_dataset=toy_dataset(2),
        processing_class=tokenizer,
    )  # fmt: skip
    vote_rewards = record_vote_rewards(trainer)
    trainer.train()
    # The trained round for both prompts (8 rows), then 3 rounds over Q1's 4 slots only: two merged into one call
    # of 8 rows (4 slots fill half of a regular call), then the last one.
    assert generator.rows_per_call == [8, 8, 4]
    drawn = defaultdict(list)
    for tag, text in generator.generated:
        drawn[tag].append(text)
    assert len(drawn["Q0"]) == 4 and len(drawn["Q1"]) == 16
    first_round = {text for _, text in generator.generated[:8]}
    prompts, completions = spy.calls[0]
    for prompt, completion, reward in zip(prompts, completions, vote_rewards[0], strict=True):
        text = completion[0]["content"]
        tag = re.search(r"Q\d+", prompt[-1]["content"]).group(0)
        assert text in first_round and text.startswith(tag + " ")  # the trained completions are the first round
        label = majority_vote(drawn[tag]).label  # recomputed from every vote drawn for that prompt
        assert reward == float(label is not None and answers_equivalent(extract_answer(text), label))
    logs = trainer.state.log_history[0]
    assert logs["ttrl/votes_per_prompt"] == 10  # (4 + 16) / 2
    assert logs["ttrl/settled_fraction"] == 0.5  # Q0 settled after the first round
    assert logs["ttrl/generated_completions"] == 20


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"vote_stop_confidence": 0.5}, "vote_stop_confidence must be in \\(0.5, 1\\)"),
        ({"vote_stop_confidence": 1.0}, "vote_stop_confidence must be in \\(0.5, 1\\)"),
        ({"vote_stop_confidence": 0.95, "n_votes_per_prompt": 4}, "no extra votes to stop early"),
    ],
)
def test_bad_stop_confidence_is_refused(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(tmp_path, **overrides)


def test_a_final_adaptive_vote_carries_the_reward_options():
    soft = vote_until_settled(["1", "1", "1", "2"], truth=None, confidence=0.95, max_votes=4, rule=RewardRule("soft"))
    assert soft.settled and soft.rewards == (0.75, 0.75, 0.75, 0.25)
    banded = vote_until_settled(["1", "2", "1", "2"], None, 0.95, max_votes=4, rule=RewardRule(min_majority_ratio=0.6))
    assert banded.filtered and banded.rewards == (0.0,) * 4
