"""Efficacy controls (oracle, random) and the collapse guards (RESTRAIN's penalty, TTRL-Guard's scaling)."""

from __future__ import annotations

import random
import re

import pytest
import torch
import trl
from helpers import tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.vote.group_vote import grade_vote
from ttrl_trl.vote.guards import AdvantageMap, GuardRule, check_guard_options
from ttrl_trl.vote.label_history import LabelHistory
from ttrl_trl.vote.rewards import RewardRule
from ttrl_trl.vote.voting import vote_on_answers


# ---------------------------------------------------------------------------------------------- controls
def test_oracle_rewards_correctness_against_gold_not_the_majority():
    vote = vote_on_answers(["7", "7", "7", "8"])  # majority 7, gold 8
    graded = grade_vote(vote, "8", RewardRule(control="oracle"))
    assert graded.rewards == (0.0, 0.0, 0.0, 1.0) and graded.vote.label == "7"
    with pytest.raises(ValueError, match="control_reward='oracle'"):
        grade_vote(vote, None, RewardRule(control="oracle"))


def test_random_control_is_a_fair_coin_whatever_the_answer_says():
    rule = RewardRule(control="random", rng=random.Random(0))
    unanimous = vote_on_answers(["3"] * 1000)
    rewards = rule.apply(unanimous)[0]
    assert set(rewards) == {0.0, 1.0} and abs(sum(rewards) / 1000 - 0.5) < 0.05
    # Same answers, same rule state -> other draws: the reward carries no information about the text.
    assert rule.apply(unanimous)[0] != rewards
    again = RewardRule(control="random", rng=random.Random(0)).apply(unanimous)[0]
    assert again == rewards  # seeded: reproducible


def test_random_rule_is_seeded_by_run_seed_and_rank():
    class Args:
        vote_reward, min_majority_ratio, max_majority_ratio, control_reward, seed = "majority", 0.0, 1.0, "random", 3

    vote = vote_on_answers(["1"] * 64)
    r0, r0_again, r1 = (RewardRule.from_config(Args, rank=rank).apply(vote)[0] for rank in (0, 0, 1))
    assert r0 == r0_again and r0 != r1


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("control_reward", "labels", "control_reward must be one of oracle, random"),
        ("low_consensus_threshold", 1.5, "low_consensus_threshold must be in \\(0, 1\\]"),
        ("low_consensus_penalty", -0.1, "low_consensus_penalty must be >= 0"),
        ("selection_window", 0, "selection_window must be >= 1"),
        ("selection_patience", 0, "selection_patience must be >= 1"),
        ("metric_for_best_model", "ttrl/majority_ratio", "only ttrl/selection_score"),
    ],
)
def test_bad_options_fail_when_the_config_is_built(tmp_path, field, value, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(tmp_path, **{field: value})


def test_penalty_without_threshold_and_selection_score_with_eval_strategy_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no effect without low_consensus_threshold"):
        check_guard_options(None, 0.2)
    with pytest.raises(ValueError, match="eval_strategy='steps'.*Set eval_strategy: no"):
        tiny_config(tmp_path, metric_for_best_model="ttrl/selection_score", eval_strategy="steps", eval_steps=1)


# ---------------------------------------------------------------------------------------------- guards
def test_low_consensus_prompts_get_minus_delta_and_flipped_prompts_are_damped():
    rule = GuardRule(low_consensus_threshold=0.5, low_consensus_penalty=0.2, flip_rate_scaling=True)
    split = vote_on_answers(["1", "2", "3", "1"])  # ratio 0.5: not below 0.5
    scattered = vote_on_answers(["1", "2", "3", "4"])  # ratio 0.25
    confident = vote_on_answers(["5", "5", "5", "1"])  # ratio 0.75
    assert rule.map(scattered, None) == AdvantageMap(0.0, -0.2)
    assert rule.map(split, None).identity and rule.map(split, False).identity
    assert rule.map(split, True) == AdvantageMap(0.5, 0.0)  # 1 - lambda1
    assert rule.map(confident, True).scale == pytest.approx(0.5 * 0.7)  # and a confident majority that flipped
    assert not GuardRule().enabled and GuardRule(flip_rate_scaling=True).enabled


def test_label_history_flips_and_anchor_agreement():
    history = LabelHistory()
    first = [vote_on_answers(["1", "1", "2", None]), vote_on_answers([None, None])]
    assert history.flips(["a", "b"], first) == [None, None]
    history.update(["a", "b"], first)
    assert history.anchor_agreement(["a", "b"], first) == 0.5  # b has no anchor label: left out
    second = [vote_on_answers(["2", "2", "1/1", "1"]), vote_on_answers(["4", "4"])]
    assert history.flips(["a", "b"], second) == [True, True]
    history.update(["a", "b"], second)
    # a's anchor "1" is still written once, and "1/1" lies in its cluster: 2 of 4 agree; b has no anchor.
    assert history.anchor_agreement(["a", "b"], second) == 0.5
    assert history.first == {"a": "1", "b": None} and history.last == {"a": "2", "b": "4"}
    # No vote wrote the anchor's spelling: none counts as agreeing (documented under-count).
    assert history.anchor_agreement(["a"], [vote_on_answers(["1/1", "2"])]) == 0.0


class TaggedGenerator:
    """``script[tag]``: the answers each problem's completions cycle through."""

    def __init__(self, tokenizer, script):
        self.tokenizer, self.script, self.served = tokenizer, script, {}

    def __call__(self, trainer, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        out = []
        for ids in prompt_ids:
            tag = re.search(r"Q\d+", self.tokenizer.decode(ids, skip_special_tokens=True)).group(0)
            i = self.served[tag] = self.served.get(tag, -1) + 1
            answer = self.script[tag][i % len(self.script[tag])]
            out.append(self.tokenizer(f"{tag} \\boxed{{{answer}}}")["input_ids"] + [self.tokenizer.eos_token_id])
        return out, None


@pytest.fixture
def build(monkeypatch, tiny_model_path, tmp_path):
    def make(script, answers, **overrides):
        tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
        generator = TaggedGenerator(tokenizer, script)
        monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))
        trainer = TTRLTrainer(
            model=str(tiny_model_path),
            args=tiny_config(tmp_path / "out", n_votes_per_prompt=4, **overrides),
            train_dataset=toy_dataset(len(script), answers=answers),
            processing_class=tokenizer,
        )
        outputs = []
        generate_and_score = trainer._generate_and_score_completions
        trainer._generate_and_score_completions = lambda inputs: outputs.append(generate_and_score(inputs)) or outputs[-1]
        return trainer, outputs

    return make


def _by_tag(trainer, batch):
    texts = trainer.processing_class.batch_decode(batch["completion_ids"], skip_special_tokens=True)
    return {tag: torch.tensor([t.startswith(tag) for t in texts]) for tag in ("Q0", "Q1")}


def test_low_consensus_penalty_reaches_the_advantages_in_the_trainer(build):
    # Q0 scattered (ratio 0.25 < 0.5): every advantage -0.3; Q1 split 3/1: TRL's own advantages, untouched.
    script = {"Q0": ["1", "2", "3", "4"], "Q1": ["5", "5", "5", "6"]}
    trainer, outputs = build(script, ["1", "5"], low_consensus_threshold=0.5, low_consensus_penalty=0.3)
    trainer.train()
    batch, rows = outputs[0], _by_tag(trainer, outputs[0])
    assert torch.allclose(batch["advantages"][rows["Q0"]], torch.tensor(-0.3))
    q1 = batch["advantages"][rows["Q1"]]
    assert torch.allclose(q1.sum(), torch.tensor(0.0), atol=1e-5) and (q1 != 0).all()
    logs = trainer.state.log_history[0]
    assert logs["ttrl/guard_penalised_fraction"] == 0.5 and logs["ttrl/guard_scaled_fraction"] == 0.0


def test_oracle_control_trains_on_gold_in_the_trainer(build):
    # Q0's majority is 5 but gold is 6: the oracle rewards the lone 6, TTRL would reward the three 5s.
    script = {"Q0": ["5", "5", "5", "6"], "Q1": ["1", "1", "2", "2"]}
    trainer, outputs = build(script, ["6", "1"], control_reward="oracle")
    trainer.train()
    batch = outputs[0]
    texts = trainer.processing_class.batch_decode(batch["completion_ids"], skip_special_tokens=True)
    positive = {t.split("{")[1].rstrip("}") for t, a in zip(texts, batch["advantages"]) if a > 0}
    assert positive == {"6", "1"}
    assert trainer.state.log_history[0]["ttrl/label_accuracy"] == 0.5  # metrics still describe the vote


def test_oracle_control_needs_the_gold_column(build):
    with pytest.raises(ValueError, match="lacks"):
        build({"Q0": ["1"], "Q1": ["2"]}, None, control_reward="oracle")
