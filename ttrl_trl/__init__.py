"""ttrl-trl: Test-Time Reinforcement Learning (majority-vote pseudo-labels + GRPO) on TRL.

The public API, imported lazily as TRL's own top level is, so ``import ttrl_trl`` costs nothing
until a name is used (the vote's names do not import torch or TRL at all)::

    from ttrl_trl import TTRLConfig, TTRLTrainer, majority_vote, extract_answer

Sub-packages, by job: ``ttrl_trl.vote`` (extraction, grading, the math-verify worker, group
votes, the adaptive rule, rewards, label history, the vote sampler; no TRL), ``ttrl_trl.training`` (config,
trainer, TRM, callbacks), ``ttrl_trl.evaluation``, ``ttrl_trl.demo``; the commands stay at the
top: ``python -m ttrl_trl.train | evaluate | push | plot | tiny``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    # the trainer
    "TTRLConfig": "ttrl_trl.training.config",
    "TTRLTrainer": "ttrl_trl.training.trainer",
    "VoteReward": "ttrl_trl.training.rewards",
    "majority_vote_reward": "ttrl_trl.training.rewards",
    "BenchmarkEvalCallback": "ttrl_trl.training.benchmark_eval",
    # Trust Region Masking
    "trm_sequence_mask": "ttrl_trl.training.trm",
    "trm_error_bounds": "ttrl_trl.training.trm",
    "exact_token_kl": "ttrl_trl.training.trm",
    # the vote
    "VoteResult": "ttrl_trl.vote.voting",
    "majority_vote": "ttrl_trl.vote.voting",
    "vote_on_answers": "ttrl_trl.vote.voting",
    "extract_answer": "ttrl_trl.vote.voting",
    "answers_equivalent": "ttrl_trl.vote.voting",
    "is_correct": "ttrl_trl.vote.voting",
    "VoteSampler": "ttrl_trl.vote.sampler",
    "VoteSample": "ttrl_trl.vote.sampler",
    "FullVote": "ttrl_trl.vote.sampler",
    "AdaptiveVote": "ttrl_trl.vote.sampler",
    # data and prompts
    "build_prompt": "ttrl_trl.data",
    "load_problems": "ttrl_trl.data",
    "DEFAULT_SYSTEM_PROMPT": "ttrl_trl.data",
    "BENCHMARKS": "ttrl_trl.data",
    "benchmark_file": "ttrl_trl.data",
    # evaluation
    "EvalConfig": "ttrl_trl.evaluation.config",
    "evaluate": "ttrl_trl.evaluation.run",
    # tiny offline models
    "build_tiny_model": "ttrl_trl.tiny",
    "build_char_tokenizer": "ttrl_trl.tiny",
    "CPU_TRAINING_ARGS": "ttrl_trl.tiny",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # for type checkers and IDEs; at run time every name is imported on first use
    from ttrl_trl.data import BENCHMARKS, DEFAULT_SYSTEM_PROMPT, benchmark_file, build_prompt, load_problems
    from ttrl_trl.evaluation.config import EvalConfig
    from ttrl_trl.evaluation.run import evaluate
    from ttrl_trl.tiny import CPU_TRAINING_ARGS, build_char_tokenizer, build_tiny_model
    from ttrl_trl.training.benchmark_eval import BenchmarkEvalCallback
    from ttrl_trl.training.config import TTRLConfig
    from ttrl_trl.training.rewards import VoteReward, majority_vote_reward
    from ttrl_trl.training.trainer import TTRLTrainer
    from ttrl_trl.training.trm import exact_token_kl, trm_error_bounds, trm_sequence_mask
    from ttrl_trl.vote.sampler import AdaptiveVote, FullVote, VoteSample, VoteSampler
    from ttrl_trl.vote.voting import (
        VoteResult,
        answers_equivalent,
        extract_answer,
        is_correct,
        majority_vote,
        vote_on_answers,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ttrl_trl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
