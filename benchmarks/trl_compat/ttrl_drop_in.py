"""``TTRLTrainer`` dressed as ``GRPOTrainer`` for TRL's own tests: the adaptation, and nothing else.

TRL's GRPO tests import ``GRPOConfig, GRPOTrainer`` from ``trl``; the harness rewrites that one line
to import these two names instead. What they change, and why:

* one vote round (``n_votes_per_prompt == num_generations``) unless a test says otherwise, so the
  trainer generates exactly what ``GRPOTrainer`` would;
* the majority-vote reward (which ``TTRLTrainer`` always puts first) gets weight 0 whenever the
  test brings its own reward functions, so the test's rewards are the training signal, as in TRL;
  with no reward function at all, the vote is the reward;
* ``args=None`` builds a default config, as ``GRPOTrainer`` does, since ``TTRLTrainer`` requires one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.trainer import TTRLTrainer


@dataclass
class GRPOConfig(TTRLConfig):
    """``TTRLConfig`` whose vote defaults to one round of ``num_generations`` completions."""

    n_votes_per_prompt: int | None = field(default=None, metadata={"help": "None: num_generations (one round)."})

    def __post_init__(self) -> None:
        if self.n_votes_per_prompt is None:
            self.n_votes_per_prompt = self.num_generations
        super().__post_init__()


class GRPOTrainer(TTRLTrainer):
    """``TTRLTrainer`` with the vote reward at weight 0 next to the caller's reward functions."""

    def __init__(self, model: Any, reward_funcs: Any = None, args: TTRLConfig | None = None, **kwargs: Any) -> None:
        if args is None:
            name = model if isinstance(model, str) else model.config._name_or_path
            args = GRPOConfig(output_dir=f"{name.split('/')[-1]}-GRPO")
        extras = [] if reward_funcs is None else reward_funcs if isinstance(reward_funcs, list) else [reward_funcs]
        if extras:
            args.reward_weights = [0.0, *(args.reward_weights or [1.0] * len(extras))]
        super().__init__(model=model, reward_funcs=reward_funcs, args=args, **kwargs)
