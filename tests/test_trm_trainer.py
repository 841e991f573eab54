"""Trust Region Masking inside TTRLTrainer: exact zeros, all-N normaliser, logged masked fraction."""

from __future__ import annotations

import pytest
import torch
import trl
from helpers import ScriptedGenerator, tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.trainer import TTRLTrainer

LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo"]


def _batch(trainer: TTRLTrainer, shift: torch.Tensor, advantages: torch.Tensor) -> dict:
    """Random completions with ragged lengths; pi_roll = pi_theta + ``shift`` per sequence."""
    gen = torch.Generator().manual_seed(0)
    batch, prompt_len, completion_len = len(advantages), 5, 9
    vocab = trainer.model.config.vocab_size
    prompt_ids = torch.randint(5, vocab, (batch, prompt_len), generator=gen)
    completion_ids = torch.randint(5, vocab, (batch, completion_len), generator=gen)
    lengths = torch.tensor([9, 4, 7, 1, 6, 9][:batch])
    completion_mask = (torch.arange(completion_len)[None, :] < lengths[:, None]).long()
    prompt_mask = torch.ones_like(prompt_ids)
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model,
            torch.cat([prompt_ids, completion_ids], 1),
            torch.cat([prompt_mask, completion_mask], 1),
            completion_len,
        )
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": advantages,
        "old_per_token_logps": logps - shift[:, None],
        "num_items_in_batch": completion_mask.sum(),
    }


def _loss_and_grad(trainer: TTRLTrainer, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    trainer.model.zero_grad()
    loss = trainer._compute_loss(trainer.model, inputs)
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
    return loss.detach(), grad


@pytest.fixture(scope="module")
def trainers(tiny_model_path, tmp_path_factory):
    built = {}
    for loss_type in LOSS_TYPES:
        args = tiny_config(
            tmp_path_factory.mktemp(loss_type), loss_type=loss_type, trm_delta_max=0.5, trm_delta_avg=None
        )
        trainer = TTRLTrainer(model=str(tiny_model_path), args=args, train_dataset=toy_dataset(2))
        trainer.model.train()
        trainer.current_gradient_accumulation_steps = 1
        built[loss_type] = trainer
    return built


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_masked_sequences_equal_zeroed_advantages_with_the_same_denominator(trainers, loss_type):
    trainer = trainers[loss_type]
    advantages = torch.tensor([1.0, -0.5, 0.7, 2.0, -1.2, 0.3])
    # Sequences 1 and 3 leave the trust region (|log rho| = 1 > delta_max = 0.5); the rest are on-policy.
    shift = torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0, 0.0])
    inputs = _batch(trainer, shift, advantages)
    loss_trm, grad_trm = _loss_and_grad(trainer, inputs)
    assert trainer._metrics["train"]["trm/masked_fraction"][-1] == pytest.approx(2 / 6)

    # Reference: TRM off, the two sequences' advantages zeroed, everything else (incl. the tokens
    # of the masked sequences in every normaliser) untouched.
    zeroed = dict(inputs, advantages=advantages * (shift == 0))
    trainer.off_policy_mask_threshold = None
    try:
        loss_ref, grad_ref = _loss_and_grad(trainer, zeroed)
    finally:
        trainer.off_policy_mask_threshold = float("inf")
    torch.testing.assert_close(loss_trm, loss_ref, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(grad_trm, grad_ref, rtol=1e-5, atol=1e-8)
    assert grad_trm.abs().sum() > 0  # the kept sequences still learn

    # Masked sequences contribute exactly zero: changing their advantages changes nothing.
    other = dict(inputs, advantages=torch.where(shift != 0, advantages * -7.0, advantages))
    loss_other, grad_other = _loss_and_grad(trainer, other)
    assert torch.equal(loss_other, loss_trm)
    assert torch.equal(grad_other, grad_trm)


def test_loose_bounds_leave_the_loss_bit_for_bit_unchanged(trainers):
    trainer = trainers["dapo"]
    advantages = torch.tensor([1.0, -0.5, 0.7, 2.0])
    inputs = _batch(trainer, torch.tensor([0.0, 0.1, -0.1, 0.05]), advantages)
    trainer.args.trm_delta_max = 1e9
    try:
        loss_trm, grad_trm = _loss_and_grad(trainer, inputs)
        trainer.off_policy_mask_threshold = None
        loss_off, grad_off = _loss_and_grad(trainer, inputs)
    finally:
        trainer.args.trm_delta_max = 0.5
        trainer.off_policy_mask_threshold = float("inf")
    assert torch.equal(loss_trm, loss_off)
    assert torch.equal(grad_trm, grad_off)


def test_stale_rollouts_are_masked_during_training(monkeypatch, tiny_model_path, tmp_path):
    """Two optimiser steps per generation: the second step trains on rollouts of the old policy."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer)
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))
    args = tiny_config(
        tmp_path / "out",
        per_device_train_batch_size=4,
        steps_per_generation=2,
        max_steps=2,
        learning_rate=5e-2,
        trm_delta_max=1e-3,
        trm_delta_avg=1e-5,
    )
    trainer = TTRLTrainer(
        model=str(tiny_model_path), args=args, train_dataset=toy_dataset(4), processing_class=tokenizer
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "trm/masked_fraction" in h]
    assert len(logs) == 2
    assert logs[0]["trm/masked_fraction"] == 0.0  # first step: pi_theta is still pi_roll
    assert logs[1]["trm/masked_fraction"] > 0.0  # second step: the policy moved, sequences leave the region
    assert logs[1]["trm/max_abs_log_ratio/max"] > 1e-3
    for key in ("trm/k3/mean", "trm/kl_tok_max", "trm/kl_seq", "trm/bound/trpo", "trm/bound/pinsker_marginal"):
        assert key in logs[1]


def test_on_policy_trm_is_a_noop_without_an_extra_forward_pass(monkeypatch, tiny_model_path, tmp_path):
    """On-policy without vLLM, pi_roll is pi_theta: no pi_roll forward pass, one notice, metrics still logged."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer)
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))
    args = tiny_config(tmp_path / "out", trm_delta_max=1e-6, max_steps=2)
    trainer = TTRLTrainer(
        model=str(tiny_model_path), args=args, train_dataset=toy_dataset(4), processing_class=tokenizer
    )
    forwards = []
    original = trainer._get_per_token_logps_and_entropies
    monkeypatch.setattr(
        trainer, "_get_per_token_logps_and_entropies", lambda *a, **k: forwards.append(1) or original(*a, **k)
    )
    warnings = []
    monkeypatch.setattr("ttrl_trl.training.trainer.logger.warning", lambda message, *a, **k: warnings.append(message))
    trainer.train()
    # One forward per optimiser step (the loss), none for pi_roll: TRL's own on-policy cost.
    assert len(forwards) == 2
    assert sum("no-op" in w for w in warnings) == 1
    logs = [h for h in trainer.state.log_history if "trm/masked_fraction" in h]
    assert [h["trm/masked_fraction"] for h in logs] == [0.0, 0.0]  # even with a tiny delta: rho is exactly 1
    assert all(h["trm/max_abs_log_ratio/max"] == 0.0 for h in logs)


def test_nan_sampling_logprob_masks_its_sequence_and_keeps_the_loss_finite(trainers):
    """vLLM reports NaN for a token it could not score: that sequence is masked, the others are not."""
    trainer = trainers["dapo"]
    advantages = torch.tensor([1.0, -0.5, 0.7, 2.0])
    inputs = _batch(trainer, torch.zeros(4), advantages)
    sampling = inputs["old_per_token_logps"].clone()
    sampling[2, 1] = float("nan")  # a real token of sequence 2
    sampling[1, 8] = float("nan")  # padding of sequence 1 (length 4): ignored
    inputs["sampling_per_token_logps"] = sampling
    loss, grad = _loss_and_grad(trainer, inputs)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert trainer._metrics["train"]["trm/masked_fraction"][-1] == pytest.approx(1 / 4)
    mask = trainer.get_off_policy_mask(
        advantages=advantages[:, None],
        per_token_logps=inputs["old_per_token_logps"],
        sampling_per_token_logps=sampling,
        mask=inputs["completion_mask"],
        off_policy_threshold=float("inf"),
    )
    assert mask.squeeze(1).tolist() == [1, 1, 0, 1]


def test_the_class_keeps_trls_static_off_policy_mask(trainers):
    """Code that calls the hook on the class (TRL's tests do) gets TRL's static OPSM, whatever TRM does."""
    advantages = torch.tensor([[1.0], [-1.0]])
    logps = torch.zeros(2, 3)
    mask = torch.ones(2, 3)
    out = TTRLTrainer.get_off_policy_mask(advantages, logps, logps + 1.0, mask, 0.5)
    assert out.squeeze(1).tolist() == [1.0, 0.0]  # the negative-advantage, high-KL sequence is dropped
    assert trainers["dapo"].get_off_policy_mask.__func__ is TTRLTrainer._trm_off_policy_mask


def _trl_token_truncate_ratio(old: torch.Tensor, sampling: torch.Tensor, mask: torch.Tensor, cap: float = 3.0):
    """TRL 1.16's vLLM importance-sampling weight, ``vllm_importance_sampling_mode="token_truncate"``
    (``GRPOTrainer._generate_and_score_completions``): pi_old / pi_vllm per token, NaN as 1, capped."""
    return torch.exp(torch.nan_to_num((old - sampling) * mask, nan=0.0)).clamp(max=cap)


def test_trm_composes_with_vllm_importance_sampling_correction(trainers):
    """vLLM on, `vllm_importance_sampling_correction` in `token_truncate` mode: TRM masks on pi_theta / pi_vllm
    (the full drift), TRL's capped pi_old / pi_vllm weight multiplies the kept sequences, every normaliser
    counts all N sequences. Same loss and gradients as IS alone with the masked sequences' advantages zeroed."""
    trainer = trainers["dapo"]
    advantages = torch.tensor([1.0, -0.5, 0.7, 2.0, -1.2, 0.3])
    inputs = _batch(trainer, torch.zeros(6), advantages)  # pi_old == pi_theta: only vLLM's mismatch is left
    # log(pi_theta / pi_vllm) per sequence: 1 and 3 leave TRM's region (delta_max 0.5), 2 and 4 do not; 1's
    # IS weight exp(1.5) is capped at 3.
    vllm_shift = torch.tensor([0.0, 1.5, 0.2, -1.0, 0.1, 0.0])
    inputs["sampling_per_token_logps"] = inputs["old_per_token_logps"] - vllm_shift[:, None]
    inputs["importance_sampling_ratio"] = _trl_token_truncate_ratio(
        inputs["old_per_token_logps"], inputs["sampling_per_token_logps"], inputs["completion_mask"]
    )
    assert trainer.vllm_importance_sampling_correction  # TRL's default, read from TTRLConfig
    trainer.use_vllm = True  # what TRL's loss reads; vLLM itself is not needed for the loss
    try:
        loss, grad = _loss_and_grad(trainer, inputs)
        assert trainer._metrics["train"]["trm/masked_fraction"][-1] == pytest.approx(2 / 6)
        trainer.off_policy_mask_threshold = None  # TRM off, IS still on
        try:
            zeroed = dict(inputs, advantages=advantages * (vllm_shift.abs() <= 0.5))
            loss_ref, grad_ref = _loss_and_grad(trainer, zeroed)
        finally:
            trainer.off_policy_mask_threshold = float("inf")
    finally:
        trainer.use_vllm = False
    torch.testing.assert_close(loss, loss_ref, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-5, atol=1e-8)
    # The IS weight did act: without it (use_vllm off) the kept sequences 2 and 4 weigh differently.
    loss_no_is, _ = _loss_and_grad(trainer, inputs)
    assert not torch.allclose(loss_no_is, loss)


def test_an_unscorable_vllm_token_masks_its_sequence_under_both_corrections(trainers):
    """TRL's IS weight treats a NaN sampling log-prob as ratio 1; TRM masks that sequence: the loss stays finite."""
    trainer = trainers["dapo"]
    advantages = torch.tensor([1.0, -0.5, 0.7, 2.0])
    inputs = _batch(trainer, torch.zeros(4), advantages)
    sampling = inputs["old_per_token_logps"].clone()
    sampling[2, 1] = float("nan")
    inputs["sampling_per_token_logps"] = sampling
    inputs["importance_sampling_ratio"] = _trl_token_truncate_ratio(
        inputs["old_per_token_logps"], sampling, inputs["completion_mask"]
    )
    trainer.use_vllm = True
    try:
        loss, grad = _loss_and_grad(trainer, inputs)
    finally:
        trainer.use_vllm = False
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert trainer._metrics["train"]["trm/masked_fraction"][-1] == pytest.approx(1 / 4)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"use_vllm": True}, "vllm_importance_sampling_mode='sequence_mask'"),  # TRL's default mode
        ({"use_vllm": True, "vllm_importance_sampling_mode": "token_mask"}, "token_truncate"),
        ({"use_vllm": True, "vllm_importance_sampling_mode": "token_truncate"}, None),
        ({"use_vllm": True, "vllm_importance_sampling_mode": "sequence_truncate"}, None),
        ({"use_vllm": True, "vllm_importance_sampling_correction": False}, None),
        ({"use_vllm": False}, None),  # TRL applies no IS without vLLM: nothing to refuse
        ({"off_policy_mask_threshold": 0.5}, "off_policy_mask_threshold"),
    ],
)
def test_trm_next_to_vllm_importance_sampling_correction_and_opsm(tmp_path, settings, error):
    """One mask per run: TRM composes with TRL's truncated IS weight, refuses TRL's masking modes and OPSM."""
    from ttrl_trl.training.config import TTRLConfig

    kwargs = dict(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=4, n_votes_per_prompt=8)
    if error is None:
        assert TTRLConfig(**kwargs, trm_delta_max=2.0, **settings).trm_enabled
    else:
        with pytest.raises(ValueError, match=error) as caught:
            TTRLConfig(**kwargs, trm_delta_max=2.0, **settings)
        assert "trm_delta_max" in str(caught.value) and "\n" not in str(caught.value)
        TTRLConfig(**kwargs, **settings)  # the same settings without TRM are TRL's business
