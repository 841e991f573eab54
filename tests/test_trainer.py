"""TTRLTrainer: votes over n_votes, trains on a subsample, rewards = vote matches, truth only logged."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import torch
import trl
from helpers import ScriptedGenerator, record_vote_rewards, tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.vote.voting import answers_equivalent, extract_answer, majority_vote


class RewardSpy:
    """A zero-weight reward function that records what the trainer hands to reward functions."""

    __name__ = "spy"

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, prompts, completions, **kwargs):
        self.calls.append({"prompts": prompts, "completions": completions, **kwargs})
        return [0.0] * len(completions)


def _patch_generator(generator):
    """Bind the scripted generator as TRL's generation call (signature: self, prompt_ids, ...)."""

    def fake(trainer, *args, **kwargs):
        return generator(trainer, *args, **kwargs)

    return fake


@pytest.fixture
def scripted(monkeypatch, tiny_model_path, tmp_path):
    def build(dataset, seed=0, extra_rewards=(), **overrides):
        tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
        generator = ScriptedGenerator(tokenizer, seed=seed)
        monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", _patch_generator(generator))
        spy = RewardSpy()
        from ttrl_trl.training.rewards import majority_vote_reward

        overrides.setdefault("reward_weights", [1.0, 0.0])
        args = tiny_config(tmp_path / f"out-{seed}", **overrides)
        trainer = TTRLTrainer(
            model=str(tiny_model_path),
            reward_funcs=[majority_vote_reward, spy, *extra_rewards],
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
        )
        return trainer, generator, spy

    return build


def _votes_by_tag(generator):
    votes = defaultdict(list)
    for tag, text in generator.generated:
        votes[tag].append(text)
    return votes


def test_rewards_equal_vote_matches_and_keep_prompt_alignment(scripted):
    torch.manual_seed(0)
    trainer, generator, spy = scripted(toy_dataset(4), n_votes_per_prompt=16, num_generations=4)
    vote_rewards = record_vote_rewards(trainer)
    trainer.train()

    # 2 prompts per step x 16 votes were generated; 2 x 4 were kept for the loss.
    assert len(generator.generated) == 2 * 16
    call = spy.calls[0]
    assert len(call["completions"]) == 8
    votes = _votes_by_tag(generator)
    assert all(len(v) == 16 for v in votes.values())
    expected_rewards = []
    for prompt, completion in zip(call["prompts"], call["completions"]):
        text = completion[0]["content"] if isinstance(completion, list) else completion
        prompt_tag = re.search(r"Q\d+", prompt[-1]["content"]).group(0)
        assert text.startswith(prompt_tag + " ")  # the kept completion belongs to its own prompt
        assert text in votes[prompt_tag]  # ... and is one of that prompt's votes
        label = majority_vote(votes[prompt_tag]).label  # vote recomputed independently over all 16
        expected_rewards.append(float(label is not None and answers_equivalent(extract_answer(text), label)))
    # The vote reward TRL received for each kept completion is that recomputed match.
    assert vote_rewards == [expected_rewards]
    logged = [h for h in trainer.state.log_history if "rewards/ttrl_majority/mean" in h][0]
    assert logged["rewards/ttrl_majority/mean"] == pytest.approx(sum(expected_rewards) / 8)
    # What the vote cost is logged: all 32 completions, vote-only ones included.
    assert logged["ttrl/generated_completions"] == 32
    assert logged["ttrl/generated_tokens"] > logged["completions/mean_length"] * 8


def test_subsample_is_random_not_the_first_round(scripted):
    trainer, generator, spy = scripted(toy_dataset(4), n_votes_per_prompt=16, num_generations=4, max_steps=2)
    trainer.train()
    first_round = {text for i, (_, text) in enumerate(generator.generated) if (i // 8) % 4 == 0}
    kept = [c[0]["content"] if isinstance(c, list) else c for call in spy.calls for c in call["completions"]]
    assert any(text not in first_round for text in kept)


def test_ground_truth_changes_metrics_but_not_the_loss(scripted):
    results = []
    for answers in (["1", "1", "1", "1"], ["2", "2", "2", "2"]):
        torch.manual_seed(0)
        trainer, _, _ = scripted(toy_dataset(4, answers=answers), seed=0, max_steps=2)
        trainer.train()
        params = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
        metrics = [h for h in trainer.state.log_history if "ttrl/label_accuracy" in h]
        results.append((params, metrics))
    (params_a, metrics_a), (params_b, metrics_b) = results
    assert torch.equal(params_a, params_b)
    assert [m["loss"] for m in metrics_a] == [m["loss"] for m in metrics_b]
    assert [m["ttrl/label_accuracy"] for m in metrics_a] != [m["ttrl/label_accuracy"] for m in metrics_b]


def test_no_answer_group_gives_zero_advantage_and_is_counted(monkeypatch, tiny_model_path, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer, choices=(None,))
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", _patch_generator(generator))
    trainer = TTRLTrainer(
        model=str(tiny_model_path),
        args=tiny_config(tmp_path / "out", n_votes_per_prompt=4, num_generations=4),
        train_dataset=toy_dataset(2, answers=["1", "2"]),
        processing_class=tokenizer,
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "ttrl/no_answer_rate" in h][0]
    assert logs["ttrl/no_answer_rate"] == 1.0
    assert logs["ttrl/majority_ratio"] == 0.0
    assert logs["ttrl/label_accuracy"] == 0.0
    assert logs["reward"] == 0.0
    assert logs["loss"] == 0.0


def test_extra_reward_functions_are_combined_as_trl_does(scripted):
    def brevity(completions, **kwargs):
        return [0.5] * len(completions)

    trainer, _, _ = scripted(toy_dataset(4), extra_rewards=[brevity], reward_weights=[1.0, 0.0, 2.0])
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h][0]
    assert trainer.reward_func_names[0] == "ttrl_majority"
    assert logs["reward"] == pytest.approx(logs["rewards/ttrl_majority/mean"] + 2.0 * 0.5)


def test_vote_reward_is_always_first(tiny_model_path, tmp_path):
    def extra(completions, **kwargs):
        return [0.0] * len(completions)

    trainer = TTRLTrainer(
        model=str(tiny_model_path), reward_funcs=extra, args=tiny_config(tmp_path / "o"), train_dataset=toy_dataset(2)
    )
    assert trainer.reward_func_names == ["ttrl_majority", "extra"]


def test_requires_ttrl_config(tiny_model_path):
    with pytest.raises(TypeError, match="TTRLConfig"):
        TTRLTrainer(model=str(tiny_model_path), args=trl.GRPOConfig(output_dir="x", bf16=False, report_to="none"))


def test_ground_truth_is_withheld_from_reward_functions_and_inputs_stay_untouched(scripted):
    trainer, _, spy = scripted(toy_dataset(4, answers=["1", "2", "1", "2"]))
    trainer.train()
    seen = set(spy.calls[0])
    assert "answer" not in seen  # the gold column never reaches a reward function
    assert "ttrl_match" not in seen  # and the vote adds no column to what they (and callbacks) see
    assert trainer.state.log_history[0]["ttrl/label_accuracy"] >= 0.0  # ... yet the accuracy metrics are logged


def test_a_reward_function_asking_for_the_gold_column_is_refused(tiny_model_path, tmp_path):
    def accuracy(completions, answer, **kwargs):
        return [float(a in c) for a, c in zip(answer, completions)]

    with pytest.raises(ValueError, match="ground_truth_column"):
        TTRLTrainer(
            model=str(tiny_model_path),
            reward_funcs=accuracy,
            args=tiny_config(tmp_path / "o"),
            train_dataset=toy_dataset(2, answers=["1", "2"]),
        )


def test_weights_and_processing_classes_may_list_only_the_extras(tiny_model_path, tmp_path):
    def extra(completions, **kwargs):
        return [0.0] * len(completions)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    trainer = TTRLTrainer(
        model=str(tiny_model_path),
        reward_funcs=[extra],
        reward_processing_classes=[tokenizer],  # one per extra function, as for a plain GRPOTrainer
        args=tiny_config(tmp_path / "o", reward_weights=[0.5]),
        train_dataset=toy_dataset(2),
    )
    assert trainer.reward_weights.tolist() == [1.0, 0.5]
    assert trainer.reward_processing_classes[1] is tokenizer and len(trainer.reward_processing_classes) == 2
    # Given in the user's own order, with the vote reward named anywhere: reordered with it.
    from ttrl_trl.training.rewards import majority_vote_reward

    trainer = TTRLTrainer(
        model=str(tiny_model_path),
        reward_funcs=[extra, majority_vote_reward],
        args=tiny_config(tmp_path / "p", reward_weights=[0.5, 2.0]),
        train_dataset=toy_dataset(2),
    )
    assert trainer.reward_func_names == ["ttrl_majority", "extra"]
    assert trainer.reward_weights.tolist() == [2.0, 0.5]
    with pytest.raises(ValueError, match=r"number of reward_weights \(3\) must match"):
        TTRLTrainer(
            model=str(tiny_model_path),
            reward_funcs=[extra],
            args=tiny_config(tmp_path / "q", reward_weights=[1.0, 1.0, 1.0]),
            train_dataset=toy_dataset(2),
        )


def test_an_extra_reward_returning_none_everywhere_is_warned_about(monkeypatch, tiny_model_path, tmp_path):
    """TRL warns when every reward function returns None for a row; the vote never does, so TTRL checks the extras."""

    def undecided(completions, **kwargs):
        return [None] * len(completions)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer)
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", _patch_generator(generator))
    trainer = TTRLTrainer(
        model=str(tiny_model_path),
        reward_funcs=[undecided],
        args=tiny_config(tmp_path / "o"),
        train_dataset=toy_dataset(4),
        processing_class=tokenizer,
    )
    warnings = []
    monkeypatch.setattr("trl.trainer.grpo_trainer.logger.warning", lambda message, *a, **k: warnings.append(message))
    trainer.train()
    # TRL's own words, on TRL's logger, as a plain GRPOTrainer would warn.
    assert any(w.startswith("All reward functions returned None for the following kwargs:") for w in warnings)
    assert any("8 completion(s) got only the vote reward" in w for w in warnings)


@pytest.mark.parametrize("rounds_per_call", [None, 2, 4])
def test_vote_rounds_per_call_bounds_rows_per_generation_call(scripted, rounds_per_call):
    """Default: each call has TRL's own rows (2 prompts x 4 slots); chunks of c rounds have c times as many."""
    trainer, generator, spy = scripted(
        toy_dataset(4), n_votes_per_prompt=16, num_generations=4, vote_rounds_per_call=rounds_per_call
    )
    vote_rewards = record_vote_rewards(trainer)
    trainer.train()
    c = rounds_per_call or 1
    assert generator.rows_per_call == [8 * c] * (4 // c)
    # Whatever the chunking, every kept completion is one of its own prompt's 16 votes and is
    # rewarded against the vote recomputed over all 16.
    votes = _votes_by_tag(generator)
    assert sorted(len(v) for v in votes.values()) == [16, 16]
    for prompt, completion, reward in zip(
        spy.calls[0]["prompts"], spy.calls[0]["completions"], vote_rewards[0], strict=True
    ):
        text = completion[0]["content"]
        tag = re.search(r"Q\d+", prompt[-1]["content"]).group(0)
        assert text.startswith(tag + " ") and text in votes[tag]
        label = majority_vote(votes[tag]).label
        assert reward == float(label is not None and answers_equivalent(extract_answer(text), label))


def test_vote_rounds_per_call_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="vote_rounds_per_call must be at least 1"):
        tiny_config(tmp_path, vote_rounds_per_call=0)


def test_processes_that_accelerate_does_not_see_are_refused(monkeypatch):
    """Launched as 2 (WORLD_SIZE) but run by accelerate as 1 of 1: each would vote alone, so it stops at once."""
    from ttrl_trl.training.trainer import _check_world_size

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="2 processes were launched .* as 1 of 1"):
        _check_world_size(1)
    _check_world_size(2)
    monkeypatch.delenv("WORLD_SIZE")
    _check_world_size(1)


# Recorded on the trainer before the vote sampler was pulled out of it (commit 875d1ac), same seeds: the kept
# completions (by serial number) and their vote rewards for the first two steps. The default path must not move.
_KEPT_BEFORE_THE_SAMPLER = {
    None: (
        [[16, 1, 2, 19, 4, 13, 30, 23], [40, 41, 50, 59, 44, 45, 54, 39]],
        [[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]],
    ),
    2: (
        [[16, 2, 4, 22, 8, 11, 29, 30], [33, 35, 52, 55, 41, 43, 60, 46]],
        [[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]],
    ),
}


@pytest.mark.parametrize("rounds_per_call", [None, 2])
def test_default_vote_keeps_and_rewards_what_it_always_did(monkeypatch, tiny_model_path, tmp_path, rounds_per_call):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer, seed=0)
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", _patch_generator(generator))
    torch.manual_seed(0)
    args = tiny_config(
        tmp_path / "o", n_votes_per_prompt=16, num_generations=4, vote_rounds_per_call=rounds_per_call, max_steps=2
    )
    trainer = TTRLTrainer(
        model=str(tiny_model_path), args=args, train_dataset=toy_dataset(4, answers=["0.5", "1", "3", "0.5"]),
        processing_class=tokenizer,
    )  # fmt: skip
    kept: list[list[int]] = []
    calculate = trainer._calculate_rewards

    def recording(inputs, prompts, completions, completion_ids_list):
        kept.append([int(re.search(r"#(\d+)", c[0]["content"]).group(1)) for c in completions])
        return calculate(inputs, prompts, completions, completion_ids_list)

    trainer._calculate_rewards = recording
    vote_rewards = record_vote_rewards(trainer)
    trainer.train()
    assert (kept, vote_rewards) == _KEPT_BEFORE_THE_SAMPLER[rounds_per_call]
