"""``TTRLTrainer``: GRPO on majority-vote pseudo-labels, with optional Trust Region Masking.

A thin adapter between TRL's ``GRPOTrainer`` and the vote sampler (:mod:`ttrl_trl.vote.sampler`,
no TRL inside). What changes relative to ``GRPOTrainer`` (everything else is TRL's own code path):

* ``_generate_single_turn``: one call into the sampler, with TRL's own generation call injected
  (so vLLM colocate / server and transformers generation all work unchanged): it draws the vote
  (full or adaptive), decides each prompt group's vote once across ranks, and returns one kept
  completion per training slot. Only those go on to the forward passes. Their vote rewards ride
  on the returned ids (:class:`~ttrl_trl.training.rewards.VotedCompletions`), which TRL hands to
  the vote reward; the ``ttrl/`` metrics are logged from the sampler's statistics.
* ``_calculate_rewards``: withholds the ground-truth column from every reward function (TRL
  passes every dataset column), so gold answers cannot leak into training; the inputs that
  callbacks and other reward functions see are left exactly as ``GRPOTrainer`` leaves them.
* Trust Region Masking, when ``trm_delta_max`` / ``trm_delta_avg`` are set, goes through TRL's
  sequence-mask hook ``get_off_policy_mask``: TRL multiplies the per-token policy loss by the
  mask before aggregating with the unmasked completion mask, so a masked sequence contributes
  exactly zero to the policy-gradient term while the normaliser still counts all N sequences.
  The hook is set on the instance, so ``TTRLTrainer.get_off_policy_mask`` stays TRL's
  ``@staticmethod`` for any code that calls it on the class.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from accelerate.utils import gather_object
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging
from trl import GRPOTrainer

from ttrl_trl.model_card import write_ttrl_model_card
from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.rewards import (
    VotedCompletions,
    VoteReward,
    majority_vote_reward,
    refuse_ground_truth_parameters,
    require_gold_column,
    vote_first,
    warn_if_extras_returned_none,
)
from ttrl_trl.training.selection import SelectionScoreCallback
from ttrl_trl.training.trm import trm_keep, trm_sequence_stats, trm_stats_metrics
from ttrl_trl.training.vllm_wake import one_wake
from ttrl_trl.training.vote_metrics import vote_metrics
from ttrl_trl.vote.guards import AdvantageMap, GuardRule, apply_advantage_maps, record_labels
from ttrl_trl.vote.label_history import LabelHistory
from ttrl_trl.vote.rewards import RewardRule
from ttrl_trl.vote.sampler import AdaptiveVote, FullVote, VoteSample, VoteSampler, VoteStrategy

logger = logging.get_logger(__name__)


class TTRLTrainer(GRPOTrainer):
    """GRPO trainer whose reward is agreement with the majority-voted answer of ``n_votes_per_prompt`` samples.

    Args are those of :class:`trl.GRPOTrainer`; ``args`` must be a :class:`TTRLConfig`. The vote
    reward is always the first reward function; ``reward_funcs`` adds extra TRL reward functions
    (callables or reward-model ids), combined as TRL combines them. ``reward_weights`` and
    ``reward_processing_classes`` may list either one entry per extra function (the vote then gets
    weight 1.0 and no processing class) or one per function with the vote's first.
    ``benchmark_dataset`` (rows with ``prompt`` and ``answer``) is what ``benchmark_eval_steps``
    evaluates on, by default the training set.
    """

    _tag_names = ["trl", "grpo", "ttrl"]
    _name = "TTRL"

    def __init__(
        self,
        model: Any,
        reward_funcs: Any = None,
        args: TTRLConfig | None = None,
        reward_processing_classes: Any = None,
        benchmark_dataset: Any = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(args, TTRLConfig):
            raise TypeError(f"TTRLTrainer needs `args` to be a TTRLConfig, got {type(args).__name__}.")
        if kwargs.get("tools") or kwargs.get("rollout_func") or kwargs.get("environment_factory"):
            raise ValueError(
                "TTRLTrainer votes on single-turn answers; `tools`, `rollout_func` and `environment_factory` are not "
                "supported. Use trl.GRPOTrainer for multi-turn rollouts."
            )
        given = (
            [] if reward_funcs is None else list(reward_funcs) if isinstance(reward_funcs, list) else [reward_funcs]
        )
        extras = [f for f in given if f is not majority_vote_reward]
        refuse_ground_truth_parameters(extras, args.ground_truth_column)
        if args.reward_weights is not None:
            args.reward_weights = vote_first(given, extras, list(args.reward_weights), 1.0, "reward_weights")
        if reward_processing_classes is not None:
            classes = (
                reward_processing_classes
                if isinstance(reward_processing_classes, list)
                else [reward_processing_classes]
            )
            reward_processing_classes = vote_first(given, extras, classes, None, "reward_processing_classes")
        super().__init__(
            model=model,
            reward_funcs=[VoteReward(), *extras],
            args=args,
            reward_processing_classes=reward_processing_classes,
            **kwargs,
        )
        _check_world_size(self.accelerator.num_processes)
        if args.trm_enabled:
            # Switch TRL's sequence-mask hook on (our mask ignores the threshold) and route it to TRM.
            self.off_policy_mask_threshold = float("inf")
            self.get_off_policy_mask = self._trm_off_policy_mask
        self._batch_ground_truth: list[Any] | None = None  # only while one batch is generated and scored
        self._trm_noop_noted = False
        self._label_history = LabelHistory()
        # vote_reward, its consensus band, and the efficacy controls
        self._reward_rule = RewardRule.from_config(args, rank=self.accelerator.process_index)
        self._guard_rule = GuardRule.from_config(args)
        self._advantage_maps: list[AdvantageMap] | None = None  # only while one batch is generated and scored
        if args.control_reward == "oracle":
            require_gold_column(self.train_dataset, args.ground_truth_column)
        if args.benchmark_eval_enabled:
            self._add_benchmark_eval(benchmark_dataset)
        self.add_callback(SelectionScoreCallback(args.selection_window, args.selection_patience, trainer=self))

    def _add_benchmark_eval(self, benchmark: Any) -> None:
        """Benchmark evaluation every ``benchmark_eval_steps`` (``ttrl_trl.training.benchmark_eval``); by default on the
        training questions, as TTRL evaluates on the test set it adapts to."""
        from ttrl_trl.training.benchmark_eval import BenchmarkEvalCallback

        if benchmark is None:
            self.add_callback(BenchmarkEvalCallback(self, self.train_dataset, self.args.ground_truth_column))
        else:
            self.add_callback(BenchmarkEvalCallback(self, benchmark))

    # ------------------------------------------------------------------ rewards
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        self._advantage_maps = getattr(completion_ids_list, "advantage_maps", None)  # for this very call's advantages
        # Gold answers are for the ttrl/ metrics only: no reward function ever sees them.
        column = self.args.ground_truth_column
        inputs = [{key: value for key, value in example.items() if key != column} for example in inputs]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        warn_if_extras_returned_none(rewards_per_func, inputs, prompts, completions, self.accelerator.process_index)
        return rewards_per_func

    # ------------------------------------------------------------------ generation and voting
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        # This batch's gold answers (metrics only), for TRL's generation hook within this very call; never later.
        column = self.args.ground_truth_column
        self._batch_ground_truth = [example.get(column) for example in inputs]
        try:
            output = super()._generate_and_score_completions(inputs)
            maps = self._advantage_maps  # the guards' maps, read back from this batch's completions
        finally:
            self._batch_ground_truth = self._advantage_maps = None
        if maps:  # the guards (ttrl_trl.vote.guards) act on TRL's group-normalised advantages
            output["advantages"] = apply_advantage_maps(output["advantages"], maps)
        if self.args.trm_enabled and "old_per_token_logps" not in output and "sampling_per_token_logps" not in output:
            self._note_trm_noop()
        return output

    def _note_trm_noop(self) -> None:
        """On-policy without vLLM, TRL skips pi_roll's log-probs: the rollout policy *is* pi_theta, rho = 1."""
        if not self._trm_noop_noted and self.accelerator.is_main_process:
            logger.warning(
                "Trust Region Masking is a no-op in this configuration: generation is on-policy (no vLLM, and "
                "gradient_accumulation_steps is a multiple of steps_per_generation * num_iterations), so the policy "
                "that sampled the tokens is the one being trained and every ratio is exactly 1. The trm/ metrics are "
                "still logged (all zero)."
            )
        self._trm_noop_noted = True

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        mode = "train" if self.model.training else "eval"
        rows_fixed = images is not None or bool(multimodal_fields)  # TRL's per-row images: rows stay as given
        strategy = self._vote_strategy(mode, rows_fixed)
        trl_generate = super()._generate_single_turn
        with one_wake(getattr(self, "vllm_generation", None) if self.use_vllm else None) as wrap:

            @wrap
            def generate(rows: list, n: int) -> tuple[list, list | None]:
                return trl_generate(rows, images, multimodal_fields, n, has_tool_images)

            sampler = VoteSampler(
                generate,
                decode=lambda ids: self.processing_class.batch_decode(ids, skip_special_tokens=True),
                gather=gather_object,
                rank=self.accelerator.process_index,
                world_size=self.accelerator.num_processes,
                rule=self._reward_rule,
            )
            sample = sampler.sample(
                prompt_ids, strategy, num_generations, self._batch_ground_truth, self.state.global_step, self.args.seed
            )
        maps = self._log_vote(mode, sample)
        offset, g = self.accelerator.process_index * len(prompt_ids), num_generations
        local_maps = [maps[(offset + i) // g] for i in range(len(prompt_ids))] if maps else None
        return VotedCompletions(sample.completion_ids, sample.rewards, local_maps), sample.logprobs

    def _vote_strategy(self, mode: str, rows_fixed: bool) -> VoteStrategy:
        """Full or adaptive voting (training only; evaluation draws one round) and the rounds per generation call."""
        args = self.args
        if mode == "eval":
            return FullVote(rounds=1)
        if args.vote_stop_confidence is not None:
            if rows_fixed:
                raise ValueError("vote_stop_confidence does not support image prompts yet; set it to None.")
            # Rounds drawn ahead are votes the rule cannot save: one per call unless the user asks for more.
            return AdaptiveVote(args.vote_rounds, args.vote_stop_confidence, args.vote_rounds_per_call or 1)
        # Per call: the user's vote_rounds_per_call, else all rounds with vLLM (it bounds its own KV cache), one
        # otherwise (no call larger than plain GRPO's); with per-row images each round is TRL's own call.
        per_call = args.vote_rounds_per_call or (args.vote_rounds if self.use_vllm else 1)
        return FullVote(args.vote_rounds, 1 if rows_fixed else per_call)

    def _log_vote(self, mode: str, sample: VoteSample) -> list[AdvantageMap]:
        """The ``ttrl/`` metrics from the sampler's result and the label history; every group's guard map."""
        metrics, maps = vote_metrics(sample), []
        if mode == "train":  # the history holds training labels only (same values on every rank)
            signals, maps = record_labels(
                self._label_history, sample.keys, [v.vote for v in sample.votes], self._guard_rule
            )
            metrics.update(signals)
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        return maps

    # ------------------------------------------------------------------ checkpoints
    def _load_callback_state(self) -> None:
        # transformers rebuilds stateful callbacks from their saved args: hand the selection score its trainer back.
        super()._load_callback_state()
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, SelectionScoreCallback):
                callback.trainer = self

    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            self._label_history.save(os.path.join(self._get_output_dir(trial=trial), folder))

    def _load_optimizer_and_scheduler(self, checkpoint) -> None:
        # Called on every resume whatever the backend (TRL restores its own state here too).
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and not self._label_history.load(checkpoint):
            logger.warning(f"No label history in {checkpoint}: ttrl/label_flip_rate restarts from an empty history.")

    # ------------------------------------------------------------------ Trust Region Masking
    def _trm_off_policy_mask(
        self,
        advantages: torch.Tensor,
        per_token_logps: torch.Tensor,
        sampling_per_token_logps: torch.Tensor,
        mask: torch.Tensor,
        off_policy_threshold: float,
    ) -> torch.Tensor:
        """TRM's whole-sequence mask, (B, 1): 1 keeps a sequence, 0 drops it from the policy gradient.

        Installed as ``self.get_off_policy_mask`` when TRM is on. ``sampling_per_token_logps`` is
        pi_roll: vLLM's sampling log-probs when present, else the old policy's. TRL then weights the kept
        sequences by its vLLM importance ratio, if on (truncate modes; TTRLConfig refuses the mask modes).
        A NaN log-prob on a real token (vLLM could not score it) counts as an infinite ratio: the sequence
        is masked (nothing certifies it stayed in the trust region), which ``trm/masked_fraction`` counts.
        """
        stats = trm_sequence_stats(per_token_logps.detach() - sampling_per_token_logps, mask)
        keep = trm_keep(stats, self.args.trm_delta_max, self.args.trm_delta_avg)
        self._log_trm_metrics(stats, keep)
        return keep.unsqueeze(1).to(mask.dtype)

    def _log_trm_metrics(self, stats: dict[str, torch.Tensor], keep: torch.Tensor) -> None:
        # Per-sequence statistics only: every rank sends B numbers per statistic, never (B, T) tensors.
        stats = {name: self.accelerator.gather(value.contiguous()) for name, value in stats.items()}
        keep = self.accelerator.gather(keep.contiguous())
        mode = "train" if self.model.training else "eval"
        for name, value in trm_stats_metrics(stats, keep).items():
            self._metrics[mode][name].append(value)

    # ------------------------------------------------------------------ model card
    def create_model_card(self, model_name: str | None = None, dataset_name: str | None = None, tags=None) -> None:
        """The TTRL card (``ttrl_trl.model_card``). Not written mid-training unless checkpoints are pushed: an
        interrupted run's folder must not hold a card for a model it does not hold."""
        if self.is_world_process_zero() and (self.args.push_to_hub or not self.is_in_train):
            write_ttrl_model_card(self.args, dataset_name=dataset_name, trainer=self, tags=tags)


def _check_world_size(num_processes: int) -> None:
    """Several launched processes that accelerate runs as one each would vote on their own halves: refuse."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != num_processes:
        raise RuntimeError(
            f"{launched} processes were launched (WORLD_SIZE) but accelerate runs this one as {num_processes} of "
            f"{num_processes}, so the processes would not share their votes. This happens, for example, with FSDP on "
            "a CPU (accelerate 1.15 drops the FSDP setting there) or with `use_cpu: false` and no GPU; on a CPU use "
            "`torchrun --nproc_per_node N` with DDP or DeepSpeed and `use_cpu: true` (or `--ddp_backend gloo`)."
        )
