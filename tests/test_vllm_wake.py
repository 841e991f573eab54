"""Colocated vLLM with sleep mode: the vote's extra generation calls wake the engine and push the weights once.

vLLM is not installed here, so TRL's own ``VLLMGeneration`` (its real ``generate`` / ``sync_weights``
code) runs on a fake engine that counts wake-ups, sleeps and weight loads.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
import torch
import trl.generation.vllm_generation as vllm_generation
from helpers import ScriptedGenerator, tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.training.vllm_wake import one_wake


class FakeLLM:
    """vLLM's ``LLM`` as TRL's colocate mode uses it; every completion is ``completion_ids``."""

    def __init__(self, completion_ids=(5, 6)) -> None:
        self.events: Counter = Counter()
        self.awake: set[str] = set()
        self.completion_ids = list(completion_ids)
        model = SimpleNamespace(load_weights=lambda weights: self.events.update(["load_weights"]))
        self.llm_engine = SimpleNamespace(
            model_executor=SimpleNamespace(driver_worker=SimpleNamespace(model_runner=SimpleNamespace(model=model)))
        )

    def wake_up(self, tags=None):
        for tag in tags or ["weights", "kv_cache"]:
            assert tag not in self.awake, f"{tag} woken twice"  # what a real engine must not be asked
            self.awake.add(tag)
            self.events[f"wake_up:{tag}"] += 1

    def sleep(self, level=1):
        assert self.awake, "put to sleep while asleep"
        self.awake.clear()
        self.events[f"sleep:{level}"] += 1

    def reset_prefix_cache(self):
        self.events["reset_prefix_cache"] += 1

    def generate(self, prompts, sampling_params=None, use_tqdm=False):
        assert self.awake == {"weights", "kv_cache"}, "generating on a sleeping engine"
        self.events["generate"] += 1
        logprobs = [{t: SimpleNamespace(logprob=-0.5, rank=1)} for t in self.completion_ids]
        output = SimpleNamespace(token_ids=list(self.completion_ids), logprobs=logprobs)
        return [SimpleNamespace(prompt_token_ids=p["prompt_token_ids"], outputs=[output]) for p in prompts]


@pytest.fixture
def fake_vllm(monkeypatch):
    """TRL's ``VLLMGeneration`` builds a ``FakeLLM`` (asleep, as after TRL's own start-up with sleep mode)."""
    monkeypatch.setattr(vllm_generation, "SamplingParams", lambda **kwargs: kwargs, raising=False)
    engines = []

    def init(self):
        self.llm = FakeLLM(self.processing_class("\\boxed{1}")["input_ids"] + [self.processing_class.eos_token_id])
        self._llm_weights_sleeping = self.enable_sleep_mode
        engines.append(self.llm)

    monkeypatch.setattr(vllm_generation.VLLMGeneration, "_init_vllm", init)
    return engines


def _generation(model, tokenizer, **options):
    from accelerate import Accelerator

    options = {"mode": "colocate", "enable_sleep_mode": True, **options}
    return vllm_generation.VLLMGeneration(model, Accelerator(cpu=True), tokenizer, max_completion_length=4, **options)


def test_calls_within_one_wake_push_the_weights_once(fake_vllm, tiny_model_path):
    """TRL alone: every call re-syncs. Within ``one_wake``: one sync, one wake per tag, one sleep at the end."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    model = torch.nn.Linear(2, 2)  # two tensors to push
    plain = _generation(model, tokenizer)
    for _ in range(3):
        plain.generate([[1, 2]], None, 1)
    assert plain.llm.events["load_weights"] == 3 * 2 and plain.llm.events["wake_up:weights"] == 3
    assert plain.llm.events["sleep:2"] == 3

    woken = _generation(model, tokenizer)
    with one_wake(woken) as wrap:
        generate = wrap(woken.generate)
        for _ in range(3):
            generate([[1, 2]], None, 1)
        assert woken.llm.awake == {"weights", "kv_cache"} and woken.llm.events["sleep:2"] == 0
    events = woken.llm.events
    assert events["generate"] == 3 and events["load_weights"] == 2  # the weights pushed once
    assert events["wake_up:weights"] == events["wake_up:kv_cache"] == events["sleep:2"] == 1
    assert woken.llm.awake == set() and woken._llm_weights_sleeping  # asleep again, as TRL leaves it
    assert "sleep" not in vars(woken.llm) and "wake_up" not in vars(woken.llm)  # the engine's own methods back


def test_without_sleep_mode_or_in_server_mode_nothing_changes(fake_vllm, tiny_model_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    awake = _generation(torch.nn.Linear(2, 2), tokenizer, enable_sleep_mode=False)
    with one_wake(awake) as wrap:
        assert wrap(len) is len and "sleep" not in vars(awake.llm)
    with one_wake(None) as wrap:
        assert wrap(len) is len


@pytest.mark.parametrize("adaptive", [False, True])
def test_the_trainer_syncs_once_per_step_whatever_the_rounds(fake_vllm, tiny_model_path, tmp_path, adaptive):
    """4 vote rounds drawn one per call (or adaptively): one weight push and one wake per generation step."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    options = {"vote_stop_confidence": 0.99} if adaptive else {"vote_rounds_per_call": 1}
    args = tiny_config(
        tmp_path / "out", use_vllm=True, vllm_mode="colocate", vllm_enable_sleep_mode=True, max_steps=2,
        n_votes_per_prompt=16, num_generations=4, max_completion_length=8, **options,
    )  # fmt: skip
    trainer = TTRLTrainer(
        model=str(tiny_model_path), args=args, train_dataset=toy_dataset(4), processing_class=tokenizer
    )
    (engine,) = fake_vllm
    tensors = sum(1 for _ in trainer.model.parameters())
    trainer.train()
    events = engine.events
    # Every completion says 1: adaptive settles only at C=0.99 after 2 rounds; the full vote draws 4.
    assert events["generate"] == 2 * (2 if adaptive else 4)
    assert events["load_weights"] == 2 * tensors  # one push per step, not one per call
    assert events["wake_up:weights"] == events["wake_up:kv_cache"] == events["sleep:2"] == 2
    assert engine.awake == set() and trainer.vllm_generation._llm_weights_sleeping


def test_scripted_generation_is_untouched_without_vllm(monkeypatch, tiny_model_path, tmp_path):
    """Transformers generation: ``one_wake`` is a no-op and TRL's call is made once per vote round."""
    import trl

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    generator = ScriptedGenerator(tokenizer)
    monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))
    trainer = TTRLTrainer(
        model=str(tiny_model_path), args=tiny_config(tmp_path / "o", n_votes_per_prompt=12), train_dataset=toy_dataset(2),
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    assert generator.rows_per_call == [8, 8, 8]
