"""``TTRLTrainer``: GRPO on majority-vote pseudo-labels, with optional Trust Region Masking.

What changes relative to TRL's ``GRPOTrainer`` (everything else is TRL's own code path):

* ``_generate_single_turn``: draws the vote as ``n_votes_per_prompt // num_generations`` rounds
  through TRL's ordinary generation call (so vLLM colocate / server and transformers generation
  all work unchanged), decides each prompt group's vote once across all ranks
  (:mod:`ttrl_trl.vote.group_vote`), and returns, for every training slot, one of its ``rounds``
  candidates picked at random. Only those go on to the forward passes; the extra vote-only
  completions are decoded and voted on, nothing more.
* ``_calculate_rewards``: withholds the ground-truth column from every reward function (TRL
  passes every dataset column), so gold answers cannot leak into training. The vote reward
  (:class:`~ttrl_trl.training.rewards.VoteReward`) reads the rewards the vote set; the inputs that
  callbacks and other reward functions see are left exactly as ``GRPOTrainer`` leaves them.
* Trust Region Masking, when ``trm_delta_max`` / ``trm_delta_avg`` are set, goes through TRL's
  sequence-mask hook ``get_off_policy_mask``: TRL multiplies the per-token policy loss by the
  mask before aggregating with the unmasked completion mask, so a masked sequence contributes
  exactly zero to the policy-gradient term while the normaliser still counts all N sequences.
  The hook is set on the instance, so ``TTRLTrainer.get_off_policy_mask`` stays TRL's
  ``@staticmethod`` for any code that calls it on the class.
"""

from __future__ import annotations

import inspect
import os
import random
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from accelerate.utils import gather_object
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import logging
from trl import GRPOTrainer
from trl.trainer.grpo_trainer import logger as trl_grpo_logger

from ttrl_trl.model_card import write_ttrl_model_card
from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.rewards import VoteReward, majority_vote_reward
from ttrl_trl.training.selection import SelectionScoreCallback
from ttrl_trl.training.trm import trm_keep, trm_sequence_stats, trm_stats_metrics
from ttrl_trl.vote.adaptive import vote_until_settled
from ttrl_trl.vote.group_vote import GroupVote, answers_by_group, decide_group_votes, vote_group
from ttrl_trl.vote.guards import AdvantageMap, GuardRule
from ttrl_trl.vote.label_history import LabelHistory, prompt_key
from ttrl_trl.vote.rewards import RewardRule, answer_entropy
from ttrl_trl.vote.voting import extract_answer

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
        _refuse_ground_truth_parameters(extras, args.ground_truth_column)
        self._vote_reward = VoteReward()
        if args.reward_weights is not None:
            args.reward_weights = _vote_first(given, extras, list(args.reward_weights), 1.0, "reward_weights")
        if reward_processing_classes is not None:
            classes = (
                reward_processing_classes
                if isinstance(reward_processing_classes, list)
                else [reward_processing_classes]
            )
            reward_processing_classes = _vote_first(given, extras, classes, None, "reward_processing_classes")
        super().__init__(
            model=model,
            reward_funcs=[self._vote_reward, *extras],
            args=args,
            reward_processing_classes=reward_processing_classes,
            **kwargs,
        )
        _check_world_size(self.accelerator.num_processes)
        if args.trm_enabled:
            # Switch TRL's sequence-mask hook on (our mask ignores the threshold) and route it to TRM.
            self.off_policy_mask_threshold = float("inf")
            self.get_off_policy_mask = self._trm_off_policy_mask
        self._batch_ground_truth: list[Any] = []
        self._trm_noop_noted = False
        self._label_history = LabelHistory()
        # vote_reward, its consensus band, and the efficacy controls
        self._reward_rule = RewardRule.from_config(args, rank=self.accelerator.process_index)
        self._guard_rule = GuardRule.from_config(args)
        self._advantage_maps: list[AdvantageMap] = []
        if args.control_reward == "oracle":
            _require_gold_column(self.train_dataset, args.ground_truth_column)
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
        # Gold answers are for the ttrl/ metrics only: no reward function ever sees them.
        column = self.args.ground_truth_column
        inputs = [{key: value for key, value in example.items() if key != column} for example in inputs]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._warn_if_extras_returned_none(rewards_per_func, inputs, prompts, completions)
        return rewards_per_func

    def _warn_if_extras_returned_none(self, rewards_per_func: torch.Tensor, inputs, prompts, completions) -> None:
        """TRL's warning for a row where every reward function returned None, counting only the user's functions.

        The vote reward always returns a number, so TRL's own check never fires; this one does, with
        TRL's wording on TRL's logger, where a plain ``GRPOTrainer`` would warn.
        """
        if rewards_per_func.size(1) < 2:
            return
        start = self.accelerator.process_index * len(prompts)
        local = rewards_per_func[start : start + len(prompts), 1:]
        unscored = torch.isnan(local).all(dim=1).nonzero(as_tuple=True)[0]
        if len(unscored):
            row = int(unscored[0])
            row_kwargs = {key: value for key, value in inputs[row].items() if key not in ("prompt", "completion")}
            row_kwargs.update(prompt=prompts[row], completion=completions[row])
            trl_grpo_logger.warning(
                f"All reward functions returned None for the following kwargs:\n{row_kwargs}\nPlease ensure that at "
                f"least one reward function returns a valid reward. (TTRLTrainer: the TTRL vote reward is not "
                f"counted here; {len(unscored)} completion(s) got only the vote reward.)"
            )

    # ------------------------------------------------------------------ generation and voting
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        # Remember this batch's gold answers (metrics only) before TRL generates.
        column = self.args.ground_truth_column
        self._batch_ground_truth = [example.get(column) for example in inputs]
        self._advantage_maps = []
        output = super()._generate_and_score_completions(inputs)
        if self._advantage_maps:  # the guards (ttrl_trl.vote.guards) act on TRL's group-normalised advantages
            advantages = output["advantages"]
            scale = advantages.new_tensor([m.scale for m in self._advantage_maps])
            shift = advantages.new_tensor([m.shift for m in self._advantage_maps])
            output["advantages"] = advantages * scale + shift
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
        adaptive = mode == "train" and self.args.vote_stop_confidence is not None
        draw = self._draw_adaptive_vote if adaptive else self._draw_full_vote
        truths, keys = self._group_context(prompt_ids, num_generations)
        drawn, votes, tokens = draw(prompt_ids, images, multimodal_fields, num_generations, has_tool_images, truths)
        self._log_vote_metrics(mode, votes, tokens, sum(len(slot) for slot in drawn))
        local_size = len(prompt_ids)
        offset = self.accelerator.process_index * local_size
        if mode == "train" and self._guard_rule.enabled:  # before the history records this batch's labels
            maps = self._guard_rule.maps(
                [v.vote for v in votes], self._label_history.flips(keys, [v.vote for v in votes])
            )
            self._metrics[mode]["ttrl/guard_scaled_fraction"].append(_mean(0 < m.scale < 1 for m in maps))
            self._metrics[mode]["ttrl/guard_penalised_fraction"].append(_mean(m.shift != 0 for m in maps))
            self._advantage_maps = [maps[(offset + i) // num_generations] for i in range(local_size)]
        self._log_label_flips(mode, votes, keys)
        if adaptive:
            # Train on the first round: it is drawn before any stop decision, so which completions are
            # trained cannot depend on what they say (how many more rounds are drawn does).
            picks = [0] * local_size
        else:
            # Keep one random candidate per training slot: every completion is kept with probability
            # 1/rounds, independently of what it says, so the trained set is an unbiased subsample.
            # Seeded by (seed, step, rank): reproducible, unchanged by a resume, different on every rank.
            rng = random.Random(f"{self.args.seed}-{self.state.global_step}-{self.accelerator.process_index}")
            picks = [rng.randrange(len(slot)) for slot in drawn]
        completion_ids = [drawn[i][r][0] for i, r in enumerate(picks)]
        logprobs = None if drawn[0][0][1] is None else [drawn[i][r][1] for i, r in enumerate(picks)]
        # Each kept completion's reward, as the rank that decided its group's vote computed it; a group's
        # votes are listed round by round, so slot s's round r is vote r * G + s % G.
        self._vote_reward.rewards = [
            votes[(offset + i) // num_generations].rewards[r * num_generations + (offset + i) % num_generations]
            for i, r in enumerate(picks)
        ]
        return completion_ids, logprobs

    def _draw_full_vote(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images, truths):
        """All ``vote_rounds`` rounds for every slot, then one vote per group across ranks.

        Returns ``(drawn, votes, tokens)``: ``drawn[i]`` is local slot ``i``'s (completion_ids,
        logprobs) per round, ``votes`` every global group's vote, ``tokens`` the tokens generated here.
        """
        rounds = self.args.vote_rounds if self.model.training else 1
        candidates = self._draw_vote_rounds(
            prompt_ids, images, multimodal_fields, num_generations, has_tool_images, rounds
        )
        # Extract answers where the completions live; every rank sends its answers in one gather.
        local_answers = [[extract_answer(text) for text in self._decode(ids)] for ids, _ in candidates]
        per_rank = gather_object([local_answers])
        answers_per_round = [[a for rank_answers in per_rank for a in rank_answers[r]] for r in range(rounds)]
        votes = decide_group_votes(
            answers_by_group(answers_per_round, num_generations),
            truths,
            rank=self.accelerator.process_index,
            world_size=self.accelerator.num_processes,
            gather=gather_object,
            vote=partial(vote_group, rule=self._reward_rule),
        )
        drawn = [
            [(ids[i], None if lps is None else lps[i]) for ids, lps in candidates] for i in range(len(prompt_ids))
        ]
        return drawn, votes, sum(len(c) for ids, _ in candidates for c in ids)

    def _draw_adaptive_vote(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images, truths):
        """The trained round for every slot, then one round at a time for the groups not settled yet.

        After each round every pending group is voted on once across ranks
        (:func:`~ttrl_trl.vote.adaptive.vote_until_settled`); a group is final when its leader is
        ahead with posterior probability ``vote_stop_confidence`` or it has ``n_votes_per_prompt``
        votes. Each further round is one generation call over just the unsettled slots, with one
        sample per row (``num_generations=1``, so vLLM server mode keeps every row). Every rank makes
        the same calls with the same number of rows (the largest count of unsettled slots on any
        rank), as ZeRO-3, FSDP and vLLM server mode need; a rank with fewer pads with copies of its
        own rows and drops their outputs. Same return as :meth:`_draw_full_vote`.
        """
        if images is not None or multimodal_fields:
            raise ValueError("vote_stop_confidence does not support image prompts yet; set it to None.")
        generate = super()._generate_single_turn
        size, rank, world = len(prompt_ids), self.accelerator.process_index, self.accelerator.num_processes
        ids, logprobs = generate(prompt_ids, None, multimodal_fields, num_generations, has_tool_images)
        drawn = [[(ids[i], None if logprobs is None else logprobs[i])] for i in range(size)]
        answers = [[a] for a in map(extract_answer, self._decode(ids))]
        tokens = sum(map(len, ids))
        num_groups = world * size // num_generations
        decide = partial(
            vote_until_settled,
            confidence=self.args.vote_stop_confidence,
            max_votes=self.args.n_votes_per_prompt,
            rule=self._reward_rule,
        )
        final: dict[int, GroupVote] = {}
        while True:
            slots = [a for rank_answers in gather_object([answers]) for a in rank_answers]
            pending = [j for j in range(num_groups) if j not in final]
            results = decide_group_votes(
                [_round_major(slots[j * num_generations : (j + 1) * num_generations]) for j in pending],
                None if truths is None else [truths[j] for j in pending],
                rank=rank,
                world_size=world,
                gather=gather_object,
                vote=decide,
            )
            final.update((j, result) for j, result in zip(pending, results) if result.settled)
            if len(pending) == num_groups:  # after the trained round
                self._metrics["train"]["ttrl/settled_fraction"].append(len(final) / num_groups)
            open_by_rank = [
                [i for i in range(size) if (r * size + i) // num_generations not in final] for r in range(world)
            ]
            rows = max(map(len, open_by_rank))
            if rows == 0:
                return drawn, [final[j] for j in range(num_groups)], tokens
            mine = open_by_rank[rank]
            padded = mine + [mine[0] if mine else 0] * (rows - len(mine))
            ids, logprobs = generate([prompt_ids[i] for i in padded], None, multimodal_fields, 1, has_tool_images)
            tokens += sum(map(len, ids))
            for k, (i, answer) in enumerate(zip(mine, map(extract_answer, self._decode(ids[: len(mine)])))):
                drawn[i].append((ids[k], None if logprobs is None else logprobs[k]))
                answers[i].append(answer)

    def _decode(self, ids: list) -> list[str]:
        return self.processing_class.batch_decode(ids, skip_special_tokens=True)

    def _group_context(self, prompt_ids, num_generations: int) -> tuple[list[Any] | None, list[str]]:
        """Per global group, in one gather: its gold answer (metrics only; None if any group lacks one) and
        the digest of its prompt (for ``ttrl/label_flip_rate``)."""
        local = list(zip(self._batch_ground_truth, map(prompt_key, prompt_ids), strict=True))
        groups = [slot for rank_slots in gather_object([local]) for slot in rank_slots][::num_generations]
        truths = [truth for truth, _ in groups]
        return (truths if truths and all(t is not None for t in truths) else None), [key for _, key in groups]

    def _rounds_per_call(self, rounds: int) -> int:
        """Vote rounds per generation call: the user's ``vote_rounds_per_call``, else all for vLLM, 1 otherwise."""
        if self.args.vote_rounds_per_call is not None:
            return min(self.args.vote_rounds_per_call, rounds)
        return rounds if self.use_vllm else 1

    def _draw_vote_rounds(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images, rounds):
        """``rounds`` samples for every local slot, as ``rounds`` (completion_ids, logprobs) pairs.

        Rounds are drawn ``c`` at a time (:meth:`_rounds_per_call`). A call over ``c`` rounds lists
        each slot ``c`` times back to back and asks for ``num_generations * c`` generations per
        prompt. Globally, TRL's layout is consecutive blocks of ``num_generations`` copies of one
        prompt, so this one is consecutive blocks of ``num_generations * c`` copies: vLLM server
        mode, which keeps every ``num_generations``-th prompt of the gathered list, asks for that
        many samples each and hands every rank its positional slice back, then serves each block
        with samples of its own prompt, whether a group spans ranks or not (tested against TRL's
        slicing). Transformers and vLLM colocate sample every listed row once. With images, each
        round is TRL's own call, unchanged.
        """
        generate = super()._generate_single_turn
        per_call = self._rounds_per_call(rounds)
        if per_call == 1 or images is not None or multimodal_fields:
            return [
                generate(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
                for _ in range(rounds)
            ]
        candidates: list[tuple[list, list | None]] = []
        for first in range(0, rounds, per_call):
            c = min(per_call, rounds - first)
            ids, logprobs = generate(
                repeat_slots(prompt_ids, c), None, multimodal_fields, num_generations * c, has_tool_images
            )
            candidates.extend(zip(split_rounds(ids, c), split_rounds(logprobs, c)))
        return candidates

    def _log_vote_metrics(self, mode: str, votes: Sequence[GroupVote], tokens: int, completions: int) -> None:
        metrics = self._metrics[mode]
        metrics["ttrl/majority_ratio"].append(_mean(v.vote.ratio for v in votes))
        metrics["ttrl/no_answer_rate"].append(_mean(a is None for v in votes for a in v.vote.answers))
        metrics["ttrl/no_label_rate"].append(_mean(v.vote.label is None for v in votes))
        metrics["ttrl/votes_per_prompt"].append(_mean(len(v.vote.answers) for v in votes))
        # What the vote costs, all ranks: every completion generated for it, vote-only ones included.
        totals = self.accelerator.gather(torch.tensor([[tokens, completions]], device=self.accelerator.device))
        metrics["ttrl/generated_tokens"].append(float(totals[:, 0].sum()))
        metrics["ttrl/generated_completions"].append(float(totals[:, 1].sum()))
        metrics["ttrl/filtered_fraction"].append(_mean(v.filtered for v in votes))
        metrics["ttrl/answer_entropy"].append(_mean(answer_entropy(v.vote) for v in votes))
        if not votes or any(v.correct is None for v in votes):
            return
        n_votes = self.args.n_votes_per_prompt if mode == "train" else len(votes[0].vote.answers)
        label_correct = [v.label_correct for v in votes]
        metrics["ttrl/label_accuracy"].append(_mean(label_correct))
        metrics[f"ttrl/maj@{n_votes}"].append(_mean(label_correct))
        metrics[f"ttrl/pass@{n_votes}"].append(_mean(any(v.correct) for v in votes))
        metrics["ttrl/reward_accuracy"].append(_mean(m == c for v in votes for m, c in zip(v.vote.matches, v.correct)))
        metrics["ttrl/rollout_accuracy"].append(_mean(c for v in votes for c in v.correct))

    def _log_label_flips(self, mode: str, votes: Sequence[GroupVote], keys: list[str]) -> None:
        """``ttrl/label_flip_rate`` over the training prompts voted before (same value on every rank)."""
        if mode != "train":
            return
        rate = self._label_history.update(keys, [v.vote for v in votes])
        if rate is not None:
            self._metrics[mode]["ttrl/label_flip_rate"].append(rate)
        agreement = self._label_history.anchor_agreement(keys, [v.vote for v in votes])
        if agreement is not None:
            self._metrics[mode]["ttrl/anchor_agreement"].append(agreement)

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


def _round_major(slot_answers: Sequence[Sequence[str | None]]) -> list[str | None]:
    """A group's answers in vote order: every slot's round 0, then every slot's round 1, ..."""
    return [answers[t] for t in range(len(slot_answers[0])) for answers in slot_answers]


def repeat_slots(prompt_ids: Sequence[Any], copies: int) -> list[Any]:
    """Each slot ``copies`` times back to back: one call draws ``copies`` rounds in a dedup-safe layout."""
    return [ids for ids in prompt_ids for _ in range(copies)]


def split_rounds(outputs: Sequence[Any] | None, copies: int) -> list[Any]:
    """Undo :func:`repeat_slots` on the outputs: ``copies`` lists, each with one output per slot (or Nones)."""
    if outputs is None:
        return [None] * copies
    return [list(outputs[t::copies]) for t in range(copies)]


def _vote_first(given: list, extras: list, values: list, vote_default: Any, field: str) -> list:
    """A per-reward-function list (weights, processing classes) laid out as the trainer's: the vote's first.

    ``values`` may follow the functions as given (which may include ``majority_vote_reward``
    anywhere), or list only the extras (the vote then gets ``vote_default``).
    """
    if len(values) == len(given) and majority_vote_reward in given:
        by_func = list(zip(given, values))
        vote_value = next(v for f, v in by_func if f is majority_vote_reward)
        return [vote_value, *(v for f, v in by_func if f is not majority_vote_reward)]
    if len(values) == len(extras):
        return [vote_default, *values]
    if len(values) == len(extras) + 1:
        return values
    raise ValueError(
        f"The number of {field} ({len(values)}) must match the number of reward functions: give one per extra "
        f"reward function ({len(extras)}), or one per function with the TTRL vote's first ({len(extras) + 1})."
    )


def _refuse_ground_truth_parameters(reward_funcs: list, column: str) -> None:
    """A reward function that names the gold column would train on the answers: refuse it up front."""
    for func in reward_funcs:
        if isinstance(func, str | torch.nn.Module) or not callable(func):
            continue
        try:
            parameters = inspect.signature(func).parameters
        except (TypeError, ValueError):
            continue
        if column in parameters:
            name = getattr(func, "__name__", type(func).__name__)
            raise ValueError(
                f"Reward function {name!r} takes the ground-truth column {column!r} (ground_truth_column), but TTRL "
                f"never rewards with gold answers: TTRLTrainer withholds that column from every reward function and "
                f"only logs accuracy against it. Remove the `{column}` parameter, or set ground_truth_column to the "
                f"column that really holds the gold answers."
            )


def _require_gold_column(dataset: Any, column: str) -> None:
    """The ``oracle`` control rewards against gold answers: refuse a dataset that has none, before training."""
    columns = getattr(dataset, "column_names", None)
    if columns is not None and column not in columns:
        raise ValueError(
            f"control_reward='oracle' rewards correctness against the gold answers in column {column!r} "
            f"(ground_truth_column), which the training dataset lacks (columns: {columns}). Set ground_truth_column, "
            "or unset control_reward."
        )


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


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0
