"""``TTRLTrainer``: GRPO on majority-vote pseudo-labels, with optional Trust Region Masking.

What changes relative to TRL's ``GRPOTrainer`` (everything else is TRL's own code path):

* ``_generate_single_turn``: draws the vote as ``n_votes_per_prompt // num_generations`` rounds
  through TRL's ordinary generation call (so vLLM colocate / server and transformers generation
  all work unchanged), majority-votes each prompt's answers across all ranks, and returns, for every
  training slot, one of its ``rounds`` candidates picked at random. Only those go on to the
  forward passes; the extra vote-only completions are decoded and voted on, nothing more.
* ``_generate``: hands each kept completion's vote match to the reward functions as the
  ``ttrl_match`` column, which :func:`~ttrl_trl.rewards.majority_vote_reward` turns into 1/0.
* ``get_off_policy_mask``: TRL's sequence-mask hook, used for Trust Region Masking when
  ``trm_delta_max`` / ``trm_delta_avg`` are set. TRL multiplies the per-token policy loss by this
  mask before aggregating with the unmasked completion mask, so a masked sequence contributes
  exactly zero to the policy-gradient term while the normaliser still counts all N sequences.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer

from ttrl_trl.config import TTRLConfig
from ttrl_trl.model_card import write_ttrl_model_card
from ttrl_trl.rewards import majority_vote_reward
from ttrl_trl.trm import trm_keep, trm_sequence_stats, trm_stats_metrics
from ttrl_trl.voting import VoteResult, extract_answer, is_correct, vote_on_answers


class TTRLTrainer(GRPOTrainer):
    """GRPO trainer whose reward is agreement with the majority-voted answer of ``n_votes_per_prompt`` samples.

    Args are those of :class:`trl.GRPOTrainer`; ``args`` must be a :class:`TTRLConfig`;
    ``benchmark_dataset`` (rows with ``prompt`` and ``answer``) is what ``benchmark_eval_steps`` evaluates on,
    by default the training set. The
    majority-vote reward is always the first reward function; ``reward_funcs`` adds extra TRL
    reward functions (callables or reward-model ids), combined with ``reward_weights`` as TRL does.
    """

    _tag_names = ["trl", "grpo", "ttrl"]
    _name = "TTRL"

    def __init__(
        self,
        model: Any,
        reward_funcs: Any = None,
        args: TTRLConfig | None = None,
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
        # The vote reward always comes first; the user's reward functions are extras, combined with
        # `reward_weights` (one weight per function, the vote's first) as TRL combines them.
        extras = [] if reward_funcs is None else reward_funcs if isinstance(reward_funcs, list) else [reward_funcs]
        reward_funcs = [majority_vote_reward, *(f for f in extras if f is not majority_vote_reward)]
        super().__init__(model=model, reward_funcs=reward_funcs, args=args, **kwargs)
        if args.trm_enabled:
            # Switch TRL's sequence-mask hook on; our `get_off_policy_mask` ignores the threshold.
            self.off_policy_mask_threshold = float("inf")
        self._batch_ground_truth: list[Any] = []
        self._batch_matches: list[bool] = []
        if args.benchmark_eval_enabled:
            self._add_benchmark_eval(benchmark_dataset)

    def _add_benchmark_eval(self, benchmark: Any) -> None:
        """Benchmark evaluation every ``benchmark_eval_steps`` (``ttrl_trl.benchmark_eval``); by default on the
        training questions, as TTRL evaluates on the test set it adapts to."""
        from ttrl_trl.benchmark_eval import BenchmarkEvalCallback

        if benchmark is None:
            self.add_callback(BenchmarkEvalCallback(self, self.train_dataset, self.args.ground_truth_column))
        else:
            self.add_callback(BenchmarkEvalCallback(self, benchmark))

    # ------------------------------------------------------------------ generation and voting
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        # Remember this batch's gold answers (metrics only) before TRL generates.
        column = self.args.ground_truth_column
        self._batch_ground_truth = [example.get(column) for example in inputs]
        output = super()._generate_and_score_completions(inputs)
        if self.args.trm_enabled and "old_per_token_logps" not in output and "sampling_per_token_logps" not in output:
            output["old_per_token_logps"] = self._rollout_logps(output)
        return output

    @torch.no_grad()
    def _rollout_logps(self, batch: dict[str, Any]) -> torch.Tensor:
        """pi_roll's token log-probs when TRL skipped them (on-policy, no vLLM), so TRM always has a reference."""
        input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        attention_mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        mode = "train" if self.model.training else "eval"
        batch_size = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size
        logps, _, _ = self._get_per_token_logps_and_entropies(
            self.model, input_ids, attention_mask, batch["completion_ids"].size(1), batch_size=batch_size
        )
        return logps

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        mode = "train" if self.model.training else "eval"
        rounds = self.args.vote_rounds if mode == "train" else 1
        candidates = self._draw_vote_rounds(
            prompt_ids, images, multimodal_fields, num_generations, has_tool_images, rounds
        )
        # Extract answers where the completions live; the vote needs every rank's answers.
        local_answers = [
            [extract_answer(text) for text in self.processing_class.batch_decode(ids, skip_special_tokens=True)]
            for ids, _ in candidates
        ]
        global_answers = [gather_object(answers) for answers in local_answers]
        global_truth = gather_object(list(self._batch_ground_truth))
        votes = _vote_per_group(global_answers, num_generations)
        self._log_vote_metrics(mode, votes, global_answers, global_truth, num_generations)

        # Keep one random candidate per training slot: every completion is kept with probability
        # 1/rounds, independently of what it says, so the trained set is an unbiased subsample.
        local_size = len(prompt_ids)
        offset = self.accelerator.process_index * local_size
        # Seeded by (seed, step, rank): reproducible, unchanged by a resume, different on every rank.
        rng = random.Random(f"{self.args.seed}-{self.state.global_step}-{self.accelerator.process_index}")
        picks = [rng.randrange(rounds) for _ in range(local_size)]
        completion_ids = [candidates[r][0][i] for i, r in enumerate(picks)]
        logprobs = None
        if candidates[0][1] is not None:
            logprobs = [candidates[r][1][i] for i, r in enumerate(picks)]
        self._batch_matches = [
            votes[(offset + i) // num_generations].matches[r * num_generations + (offset + i) % num_generations]
            for i, r in enumerate(picks)
        ]
        return completion_ids, logprobs

    def _draw_vote_rounds(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images, rounds):
        """``rounds`` samples for every local slot, as ``rounds`` (completion_ids, logprobs) pairs.

        Transformers generation and vLLM colocate sample each listed prompt once, so all rounds go
        in one call over ``rounds`` copies of the list (one batch, one weight sync). vLLM server
        mode deduplicates prompts by their position across ranks, so there each round is its own
        call in TRL's usual layout.
        """
        generate = super()._generate_single_turn
        one_call = rounds > 1 and images is None and not multimodal_fields
        if not one_call or (self.use_vllm and self.vllm_mode == "server"):
            return [
                generate(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
                for _ in range(rounds)
            ]
        ids, logprobs = generate(list(prompt_ids) * rounds, None, multimodal_fields, num_generations, has_tool_images)
        size = len(prompt_ids)
        return [
            (ids[r * size : (r + 1) * size], None if logprobs is None else logprobs[r * size : (r + 1) * size])
            for r in range(rounds)
        ]

    def _generate(self, prompts: list):
        result = list(super()._generate(prompts))
        extra_fields = dict(result[5])
        extra_fields["ttrl_match"] = list(self._batch_matches)
        result[5] = extra_fields
        return tuple(result)

    def _log_vote_metrics(
        self,
        mode: str,
        votes: list[VoteResult],
        global_answers: list[list[str | None]],
        global_truth: list[Any],
        num_generations: int,
    ) -> None:
        metrics = self._metrics[mode]
        metrics["ttrl/majority_ratio"].append(_mean(v.ratio for v in votes))
        metrics["ttrl/no_answer_rate"].append(_mean(a is None for v in votes for a in v.answers))
        metrics["ttrl/no_label_rate"].append(_mean(v.label is None for v in votes))
        truths = global_truth[::num_generations]
        if not truths or any(t is None for t in truths):
            return
        label_correct, reward_agree, rollout_correct, any_correct = [], [], [], []
        for vote, truth in zip(votes, truths):
            correct = [is_correct(a, str(truth)) for a in vote.answers]
            label_correct.append(is_correct(vote.label, str(truth)))
            reward_agree.extend(m == c for m, c in zip(vote.matches, correct))
            rollout_correct.extend(correct)
            any_correct.append(any(correct))
        n_votes = len(votes[0].answers)
        metrics["ttrl/label_accuracy"].append(_mean(label_correct))
        metrics[f"ttrl/maj@{n_votes}"].append(_mean(label_correct))
        metrics[f"ttrl/pass@{n_votes}"].append(_mean(any_correct))
        metrics["ttrl/reward_accuracy"].append(_mean(reward_agree))
        metrics["ttrl/rollout_accuracy"].append(_mean(rollout_correct))

    # ------------------------------------------------------------------ Trust Region Masking
    def get_off_policy_mask(
        self,
        advantages: torch.Tensor,
        per_token_logps: torch.Tensor,
        sampling_per_token_logps: torch.Tensor,
        mask: torch.Tensor,
        off_policy_threshold: float,
    ) -> torch.Tensor:
        """TRM's whole-sequence mask, (B, 1): 1 keeps a sequence, 0 drops it from the policy gradient."""
        if not self.args.trm_enabled:
            return GRPOTrainer.get_off_policy_mask(
                advantages, per_token_logps, sampling_per_token_logps, mask, off_policy_threshold
            )
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
        super().create_model_card(model_name=model_name, dataset_name=dataset_name, tags=tags)
        if self.is_world_process_zero():
            base_model = getattr(self.accelerator.unwrap_model(self.model).config, "_name_or_path", None)
            write_ttrl_model_card(self.args, base_model=base_model, dataset_name=dataset_name)


def _vote_per_group(global_answers: Sequence[Sequence[str | None]], num_generations: int) -> list[VoteResult]:
    """One vote per prompt group, over all rounds: group j owns slots [j*G, (j+1)*G) of every round."""
    num_groups = len(global_answers[0]) // num_generations
    votes = []
    for j in range(num_groups):
        group = slice(j * num_generations, (j + 1) * num_generations)
        votes.append(vote_on_answers([a for answers in global_answers for a in answers[group]]))
    return votes


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0
