"""Reward options inside TTRLTrainer: majority unchanged bit for bit, the band's zero gradient, flips across a resume."""

from __future__ import annotations

import math
import re

import pytest
import torch
import trl
from helpers import record_vote_rewards, tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.vote.group_vote import GroupVote
from ttrl_trl.vote.label_history import STATE_FILE
from ttrl_trl.vote.voting import vote_on_answers


class TaggedGenerator:
    """TRL's generation call, scripted per problem and step: ``script[tag][step]`` lists the answers cycled through."""

    def __init__(self, tokenizer, script: dict[str, list[list[str]]]):
        self.tokenizer = tokenizer
        self.script = script
        self.served: dict[tuple[str, int], int] = {}

    def __call__(self, trainer, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        step = trainer.state.global_step
        out = []
        for ids in prompt_ids:
            tag = re.search(r"Q\d+", self.tokenizer.decode(ids, skip_special_tokens=True)).group(0)
            answers = self.script[tag][min(step, len(self.script[tag]) - 1)]
            i = self.served.get((tag, step), 0)
            self.served[(tag, step)] = i + 1
            out.append(self.tokenizer(f"{tag} \\boxed{{{answers[i % len(answers)]}}}")["input_ids"])
        return [ids + [self.tokenizer.eos_token_id] for ids in out], None


@pytest.fixture
def build(monkeypatch, tiny_model_path, tmp_path):
    def make(script, out="out", **overrides):
        tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
        generator = TaggedGenerator(tokenizer, script)
        monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))
        args = tiny_config(tmp_path / out, **overrides)
        dataset = toy_dataset(len(script), answers=["1"] * len(script))
        return TTRLTrainer(model=str(tiny_model_path), args=args, train_dataset=dataset, processing_class=tokenizer)

    return make


# Two problems, two prompts a step: Q0 splits 2/1/1 (ratio 0.5), Q1 is unanimous (ratio 1.0).
SPLIT = {"Q0": [["1", "1", "2", "3"]], "Q1": [["5"]]}


def _params(trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


def test_majority_is_the_old_reward_bit_for_bit(build, monkeypatch):
    """Default options: rewards, losses and weights equal those of the old reward line (1.0 per match)."""
    runs = []
    for old in (False, True):
        if old:  # the reward as it was computed before vote_reward existed: straight from the vote's matches
            monkeypatch.setattr(
                "ttrl_trl.vote.sampler.vote_group",
                lambda answers, truth, rule, **context: GroupVote(
                    vote_on_answers(answers),
                    rewards=tuple(1.0 if m else 0.0 for m in vote_on_answers(answers).matches),
                ),
            )
        torch.manual_seed(0)
        script = {"Q0": [["1", "1", "2", "3"], ["2", "1", "2", None]], "Q1": [["5", "6"]]}
        trainer = build(script, out=f"out-{old}", max_steps=2)
        vote_rewards = record_vote_rewards(trainer)
        trainer.train()
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        runs.append((vote_rewards, losses, _params(trainer)))
    (rewards_new, losses_new, params_new), (rewards_old, losses_old, params_old) = runs
    assert len(rewards_new) == 2 and rewards_new == rewards_old and losses_new == losses_old
    assert torch.equal(params_new, params_old)


def test_a_filtered_group_has_no_policy_gradient_and_is_counted(build):
    # All 4 votes trained; the unanimous Q1 is outside the band, Q0 (ratio 0.5) inside.
    trainer = build(SPLIT, vote_reward="soft", max_majority_ratio=0.9, n_votes_per_prompt=4)
    outputs = []
    generate_and_score = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: outputs.append(generate_and_score(inputs)) or outputs[-1]
    trainer.train()
    logs = trainer.state.log_history[0]
    assert logs["ttrl/filtered_fraction"] == 0.5
    # Q0's clusters hold 1/2, 1/4, 1/4 of its votes; the unanimous Q1 has entropy 0.
    assert logs["ttrl/answer_entropy"] == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)) / 2)

    batch = outputs[0]
    texts = trainer.processing_class.batch_decode(batch["completion_ids"], skip_special_tokens=True)
    q1 = torch.tensor([t.startswith("Q1") for t in texts])
    assert q1.sum() == 4 and torch.all(batch["advantages"][q1] == 0) and torch.all(batch["advantages"][~q1] != 0)

    def grad_of(rows: torch.Tensor) -> torch.Tensor:
        sub = {k: v[rows] if torch.is_tensor(v) and v.dim() and len(v) == len(q1) else v for k, v in batch.items()}
        trainer.model.zero_grad()
        trainer._compute_loss(trainer.model, sub).backward()
        return torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])

    trainer.model.train()
    assert torch.count_nonzero(grad_of(q1)) == 0  # the filtered group's completions: zero gradient, exactly
    assert torch.count_nonzero(grad_of(~q1)) > 0


def test_label_flip_rate_continues_across_a_resume(build, tmp_path):
    # Labels per step: Q0 1, 1, 2, 2; Q1 5, 6, 6, 6 -> flip rates: none yet, 1/2, 1/2, 0.
    script = {"Q0": [["1"], ["1"], ["2"], ["2"]], "Q1": [["5"], ["6"], ["6"], ["6"]]}
    full = build(script, out="full", max_steps=4)
    full.train()
    rates = [h.get("ttrl/label_flip_rate") for h in full.state.log_history if "loss" in h]
    assert rates == [None, 0.5, 0.5, 0.0]

    first = build(script, out="resumed", max_steps=4, save_steps=2, save_strategy="steps")
    first.train()
    checkpoint = tmp_path / "resumed" / "checkpoint-2"
    assert (checkpoint / STATE_FILE).is_file()
    resumed = build(script, out="resumed", max_steps=4, save_steps=2, save_strategy="steps")
    resumed.train(resume_from_checkpoint=str(checkpoint))
    after = [h.get("ttrl/label_flip_rate") for h in resumed.state.log_history if "loss" in h and h["step"] > 2]
    assert after == [0.5, 0.0]  # step 3 compares with step 2's labels, restored from the checkpoint

    (checkpoint / STATE_FILE).unlink()
    fresh = build(script, out="resumed", max_steps=4, save_steps=2, save_strategy="steps")
    fresh.train(resume_from_checkpoint=str(checkpoint))
    after = [h.get("ttrl/label_flip_rate") for h in fresh.state.log_history if "loss" in h and h["step"] > 2]
    assert after == [None, 0.0]  # without the history, step 3 has nothing to compare with
