"""``TTRLConfig``: TRL's ``GRPOConfig`` plus the vote and Trust Region Masking settings.

Every field of ``GRPOConfig`` keeps its meaning. ``num_generations`` stays the number of
completions per prompt that the policy update sees; ``n_votes_per_prompt`` is the (larger)
number sampled for the majority vote. Defaults follow the official TTRL recipe (64 votes,
32 trained) where they are ours to choose; TRL's own defaults are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import GRPOConfig

from ttrl_trl.evaluation.sampling import sampling_error
from ttrl_trl.vote.guards import check_guard_options
from ttrl_trl.vote.rewards import VOTE_REWARDS, check_control_reward, check_vote_reward_options

# Loss types whose aggregation is computed from the completion mask alone, so that a sequence
# zeroed by TRM stays in the normaliser (checked for TRL 1.16; a new TRL loss type is refused
# until someone checks it too).
TRM_SUPPORTED_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo")


@dataclass
class TTRLConfig(GRPOConfig):
    """Configuration of :class:`~ttrl_trl.training.trainer.TTRLTrainer`.

    Args:
        n_votes_per_prompt: completions sampled per prompt for the majority vote. The pseudo-label
            is the most common (math-equivalent) answer among them. Must be a multiple of
            ``num_generations``: the votes are drawn as ``n_votes_per_prompt // num_generations``
            rounds of TRL's ordinary generation call.
        vote_rounds_per_call: how many vote rounds (of ``num_generations`` completions per prompt)
            one generation call draws. ``None`` (default): one round per call with transformers
            generation, so no call is larger than plain GRPO's and the KV cache never grows with
            ``n_votes_per_prompt``; all rounds in one call with vLLM, which bounds its own KV cache
            (``vllm_gpu_memory_utilization``). Raise it to trade memory for fewer, larger calls. With
            ``vote_stop_confidence`` the default is 1 with vLLM too (rounds drawn ahead are votes the
            rule cannot save); a larger value draws that many rounds for every prompt in the first
            call (fewer calls, where a call's fixed cost dominates) and bounds the later calls' rows.
        vote_stop_confidence: adaptive voting (Adaptive-Consistency, arXiv 2305.11860). ``None``
            (default) draws all ``n_votes_per_prompt`` votes. A value ``C`` in (0.5, 1) draws the
            trained round first, then one more round of ``num_generations`` at a time only for the
            prompts whose leading answer does not yet beat the runner-up with posterior probability
            ``C`` (Beta(a+1, b+1) on the two largest clusters' counts), up to ``n_votes_per_prompt``.
            The trained completions are then the first round's.
        ground_truth_column: dataset column with gold answers. Used only for logging
            ``ttrl/label_accuracy`` and friends; it never enters the reward. Missing column = no
            accuracy metrics.
        trm_delta_max: Trust Region Masking, max criterion: a sequence is masked when
            ``max_t |log rho_t|`` exceeds this. ``None`` turns the criterion off.
        trm_delta_avg: Trust Region Masking, average criterion: a sequence is masked when the mean
            over its tokens of ``rho_t - 1 - log rho_t`` (k3 estimate of the token KL) exceeds this.
            ``None`` turns the criterion off. With both off the loss is TRL's, bit for bit. TRM is the run's
            only sequence mask: it composes with TRL's vLLM importance weight in a ``*_truncate``
            ``vllm_importance_sampling_mode`` and refuses the ``*_mask`` modes and ``off_policy_mask_threshold``.
        vote_reward: the reward of each completion given its prompt's vote
            (:mod:`ttrl_trl.vote.rewards`): ``majority`` (TTRL: 1 if its answer is equivalent to
            the label, else 0) or ``soft`` (EMPO: the share of the prompt's votes in its own answer
            cluster; no answer 0).
        min_majority_ratio, max_majority_ratio: the consensus band. A prompt whose winning cluster
            holds a share of its votes outside ``[min, max]`` gets vote reward 0 for every completion,
            counted in ``ttrl/filtered_fraction``: zero advantage when the vote is the only reward
            function (extra reward functions still act on it, and the KL term when ``beta > 0``).
            ``0`` and ``1`` (default): off.
        control_reward: an efficacy control instead of TTRL's reward (``benchmarks/efficacy.py``):
            ``oracle`` rewards correctness against ``ground_truth_column`` (GRPO with labels: the
            ceiling), ``random`` draws Bernoulli(0.5) per completion (no signal at all). The vote is
            still drawn and logged. ``None`` (default): TTRL.
        low_consensus_threshold, low_consensus_penalty: RESTRAIN's negative rollout penalization
            (:mod:`ttrl_trl.vote.guards`): a prompt whose majority ratio is below the threshold gets
            advantage ``-penalty`` on every completion. ``None`` (default): off.
        flip_rate_scaling: TTRL-Guard's flip-rate-aware scaling (:mod:`ttrl_trl.vote.guards`): a
            prompt whose label flipped since its previous vote has its advantages scaled by 0.5
            (0.35 if its majority ratio is above 0.6).
        selection_window, selection_patience: ``ttrl/selection_score``, the label-free checkpoint
            score (:mod:`ttrl_trl.training.selection`), averages the last ``selection_window``
            steps; ``selection_patience`` stops training once it has stayed below its best that
            many steps. ``metric_for_best_model: ttrl/selection_score`` with ``save_strategy: best``
            keeps the checkpoint it prefers.
    """

    # TRL turns checkpointing on by default through the deprecated `gradient_checkpointing` name, which makes
    # transformers 5 warn on every run whatever the user wrote. Default it to None here and turn on
    # `activation_checkpointing` in __post_init__ when neither name is set: TRL's default, no warning, and a
    # user who still writes `gradient_checkpointing` gets transformers' warning and their value.
    gradient_checkpointing: bool | None = field(
        default=None,
        metadata={"help": "Deprecated alias of `activation_checkpointing` (on by default, as in TRL)."},
    )
    n_votes_per_prompt: int = field(
        default=64,
        metadata={"help": "Completions sampled per prompt for the majority vote (multiple of num_generations)."},
    )
    vote_rounds_per_call: int | None = field(
        default=None,
        metadata={
            "help": "Vote rounds drawn per generation call (None: 1 with transformers, so memory stays plain GRPO's; "
            "all with vLLM; 1 with vote_stop_confidence). Larger = fewer, bigger calls."
        },
    )
    vote_stop_confidence: float | None = field(
        default=None,
        metadata={
            "help": "Adaptive voting: stop drawing votes for a prompt once its leader beats the runner-up with this "
            "posterior probability, in (0.5, 1), e.g. 0.95 (None = always draw n_votes_per_prompt)."
        },
    )
    ground_truth_column: str = field(
        default="answer",
        metadata={"help": "Dataset column of gold answers, used only for logged accuracy metrics, never as reward."},
    )
    trm_delta_max: float | None = field(
        default=None,
        metadata={"help": "TRM: mask sequences with max_t |log(pi_theta/pi_roll)| above this (None = off)."},
    )
    trm_delta_avg: float | None = field(
        default=None,
        metadata={"help": "TRM: mask sequences whose mean k3 token divergence is above this (None = off)."},
    )

    # Label-free reward options (issue 11).
    vote_reward: str = field(
        default="majority",
        metadata={
            "help": "Per-completion reward from the vote: 'majority' (1 if it matches the label, TTRL) or 'soft' "
            "(share of the votes in its own answer cluster, EMPO).",
            "choices": list(VOTE_REWARDS),
        },
    )
    min_majority_ratio: float = field(
        default=0.0,
        metadata={"help": "Consensus band: prompts whose majority ratio is below this get vote reward 0 (0 = off)."},
    )
    max_majority_ratio: float = field(
        default=1.0,
        metadata={"help": "Consensus band: prompts whose majority ratio is above this get vote reward 0 (1 = off)."},
    )

    # ---- Efficacy controls (benchmarks/efficacy.py): not TTRL, a yardstick for it.
    control_reward: str | None = field(
        default=None,
        metadata={
            "help": "Efficacy control replacing the vote's reward: 'oracle' (correctness against the gold answer: "
            "GRPO with labels) or 'random' (Bernoulli(0.5) per completion). None (default): TTRL.",
        },
    )

    # ---- Guards against collapse (ttrl_trl.vote.guards): per-prompt maps of the GRPO advantages.
    low_consensus_threshold: float | None = field(
        default=None,
        metadata={
            "help": "RESTRAIN's negative rollout penalization (arXiv 2510.02172): prompts whose majority ratio is below "
            "this get advantage -low_consensus_penalty on every completion (None = off)."
        },
    )
    low_consensus_penalty: float = field(
        default=0.0, metadata={"help": "The advantage subtracted on low-consensus prompts (RESTRAIN's delta)."}
    )
    flip_rate_scaling: bool = field(
        default=False,
        metadata={
            "help": "TTRL-Guard's flip-rate-aware scaling (arXiv 2605.19444): damp the advantages of a prompt whose "
            "pseudo-label flipped since its previous vote."
        },
    )

    # ---- Label-free checkpoint choice (ttrl_trl.training.selection).
    selection_window: int = field(
        default=10,
        metadata={
            "help": "Steps averaged by ttrl/selection_score, the label-free score of a checkpoint (higher = better)."
        },
    )
    selection_patience: int | None = field(
        default=None,
        metadata={
            "help": "Stop training once ttrl/selection_score has stayed below its best for this many steps (None = never)."
        },
    )

    # ---- Benchmark evaluation during training (ttrl_trl.training.benchmark_eval): the paper's avg@16 curve.
    benchmark_eval_steps: int | None = field(
        default=None,
        metadata={"help": "Evaluate on the benchmark every N optimiser steps and at the last step (0/None = off)."},
    )
    benchmark_eval_dataset: str | None = field(
        default=None,
        metadata={
            "help": "Benchmark to evaluate on (name, file or Hub id; needs answers). Default: the training set."
        },
    )
    benchmark_eval_num_samples: int = field(default=16, metadata={"help": "k: samples per benchmark problem."})
    benchmark_eval_temperature: float = field(default=0.6, metadata={"help": "Benchmark sampling temperature."})
    benchmark_eval_top_p: float = field(default=0.95, metadata={"help": "Benchmark nucleus sampling mass."})
    benchmark_eval_max_new_tokens: int | None = field(
        default=None, metadata={"help": "Benchmark response length (default: max_completion_length)."}
    )
    benchmark_eval_max_problems: int | None = field(
        default=None, metadata={"help": "Evaluate only the first N benchmark problems (default: all)."}
    )
    benchmark_eval_batch_size: int = field(
        default=8, metadata={"help": "Problems per generate call on each rank (transformers backend)."}
    )

    def __post_init__(self) -> None:
        if self.activation_checkpointing is None and self.gradient_checkpointing is None:
            self.activation_checkpointing = True
        self._check_benchmark_eval()  # first: transformers' own best-model checks would give a less useful message
        super().__post_init__()
        self._check_votes()
        self._check_trm()
        self._check_vote_reward()
        self._check_selection()

    @property
    def vote_rounds(self) -> int:
        """How many ordinary generation calls of ``num_generations`` completions make up the vote."""
        return self.n_votes_per_prompt // self.num_generations

    @property
    def trm_enabled(self) -> bool:
        return self.trm_delta_max is not None or self.trm_delta_avg is not None

    def _check_votes(self) -> None:
        if self.n_votes_per_prompt < self.num_generations:
            raise ValueError(
                f"n_votes_per_prompt ({self.n_votes_per_prompt}) must be >= num_generations ({self.num_generations}): "
                "the trained completions are a subset of the voted ones. Raise n_votes_per_prompt or lower "
                "num_generations (the paper votes on 64 and trains on 32)."
            )
        if self.n_votes_per_prompt % self.num_generations != 0:
            raise ValueError(
                f"n_votes_per_prompt ({self.n_votes_per_prompt}) must be a multiple of num_generations "
                f"({self.num_generations}), since votes are drawn in rounds of num_generations completions. "
                f"Use e.g. n_votes_per_prompt={self.vote_rounds * self.num_generations or self.num_generations} "
                f"or {(self.vote_rounds + 1) * self.num_generations}."
            )
        if self.vote_stop_confidence is not None:
            if not 0.5 < self.vote_stop_confidence < 1:
                raise ValueError(
                    f"vote_stop_confidence must be in (0.5, 1), e.g. 0.95, or None (off); got {self.vote_stop_confidence}."
                )
            if self.vote_rounds == 1:
                raise ValueError(
                    f"vote_stop_confidence is set but n_votes_per_prompt == num_generations ({self.num_generations}): "
                    "there are no extra votes to stop early. Raise n_votes_per_prompt (e.g. to "
                    f"{2 * self.num_generations}) or set vote_stop_confidence to None."
                )
        if self.vote_rounds_per_call is not None and self.vote_rounds_per_call < 1:
            raise ValueError(
                f"vote_rounds_per_call must be at least 1 (or None for the default), got {self.vote_rounds_per_call}. "
                f"Use 1 for the least memory, or {self.vote_rounds} to draw all {self.vote_rounds} rounds in one call."
            )

    def _check_vote_reward(self) -> None:
        check_vote_reward_options(self.vote_reward, self.min_majority_ratio, self.max_majority_ratio)
        check_control_reward(self.control_reward)
        check_guard_options(self.low_consensus_threshold, self.low_consensus_penalty)

    def _check_selection(self) -> None:
        if self.selection_window < 1:
            raise ValueError(
                f"selection_window must be >= 1 (steps averaged by ttrl/selection_score); got {self.selection_window}."
            )
        if self.selection_patience is not None and self.selection_patience < 1:
            raise ValueError(
                f"selection_patience must be >= 1 step, or None (never stop); got {self.selection_patience}."
            )
        best = (self.metric_for_best_model or "").removeprefix("eval_")
        if best.startswith("ttrl/") and best != "ttrl/selection_score":
            raise ValueError(
                f"metric_for_best_model={self.metric_for_best_model!r} is not a checkpoint score: of the ttrl/ metrics only "
                "ttrl/selection_score (label-free) is offered to choose checkpoints."
            )
        if best == "ttrl/selection_score":
            strategy = str(getattr(self.eval_strategy, "value", self.eval_strategy))
            if strategy != "no":
                raise ValueError(
                    f"metric_for_best_model=ttrl/selection_score with eval_strategy={strategy!r}: the score is logged by "
                    "training, not by the Trainer's evaluation, which would look for eval_ttrl/selection_score and fail "
                    "at its first evaluation. Set eval_strategy: no."
                )
            if not self.greater_is_better:
                raise ValueError(
                    "metric_for_best_model=ttrl/selection_score is higher-is-better: set greater_is_better: true."
                )

    def _check_trm(self) -> None:
        for name in ("trm_delta_max", "trm_delta_avg"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number or None (off); got {value}.")
        if not self.trm_enabled:
            return
        if self.loss_type not in TRM_SUPPORTED_LOSS_TYPES:
            raise ValueError(
                f"Trust Region Masking is not validated for loss_type={self.loss_type!r}. "
                f"Use one of {TRM_SUPPORTED_LOSS_TYPES}, or turn TRM off (trm_delta_max=None, trm_delta_avg=None)."
            )
        # One mask per run (README, "Trust Region Masking"): TRL's other masks test the same drift differently.
        if self.off_policy_mask_threshold is not None:
            raise ValueError(
                "off_policy_mask_threshold (TRL's OPSM) and Trust Region Masking (trm_delta_max / trm_delta_avg) are "
                "both sequence masks on the same hook; set off_policy_mask_threshold: null, or turn TRM off."
            )
        mode = self.vllm_importance_sampling_mode
        if self.use_vllm and self.vllm_importance_sampling_correction and mode.endswith("_mask"):
            raise ValueError(
                f"vllm_importance_sampling_mode={mode!r} masks on the vLLM ratio next to Trust Region Masking "
                f"(trm_delta_max / trm_delta_avg); set vllm_importance_sampling_mode: token_truncate (TRM masks, the "
                f"capped ratio reweights what it keeps) or vllm_importance_sampling_correction: false."
            )

    @property
    def benchmark_eval_enabled(self) -> bool:
        return bool(self.benchmark_eval_steps)

    def _check_benchmark_eval(self) -> None:
        """Refuse what `ttrl_trl.evaluate` refuses, and best-checkpoint settings that could never work."""
        if self.benchmark_eval_max_new_tokens is None:
            self.benchmark_eval_max_new_tokens = self.max_completion_length
        steps = self.benchmark_eval_steps
        best = self.metric_for_best_model or ""
        if not self.benchmark_eval_enabled:
            if best.removeprefix("eval_").startswith("benchmark/"):
                raise ValueError(
                    f"metric_for_best_model={best!r} needs the benchmark evaluation: set benchmark_eval_steps "
                    f"(e.g. 16), or pick another metric."
                )
            return
        if steps < 1:
            raise ValueError(
                f"benchmark_eval_steps={steps} must be >= 1, or 0/None to turn the benchmark evaluation off."
            )
        error = sampling_error(self, prefix="benchmark_eval_")  # the very checks `ttrl_trl.evaluate` runs
        if error is not None:
            raise ValueError(error)
        if best.removeprefix("eval_").startswith("benchmark/"):
            self._check_best_benchmark_metric(best.removeprefix("eval_"))

    def _check_best_benchmark_metric(self, best: str) -> None:
        k = self.benchmark_eval_num_samples
        known = ("benchmark/pass@1", f"benchmark/maj@{k}", f"benchmark/pass@{k}", "benchmark/no_answer_rate")
        if best not in known:
            raise ValueError(f"metric_for_best_model={best!r} is not logged; use one of {list(known)}.")
        evaluation = str(getattr(self.eval_strategy, "value", self.eval_strategy))
        if evaluation != "no":
            raise ValueError(
                f"metric_for_best_model={best!r} with eval_strategy={evaluation!r}: transformers would look for "
                f"'eval_{best}' among the eval_dataset's metrics and stop with a KeyError at the first evaluation "
                f"(the benchmark is logged by its own callback); set eval_strategy: no, or pick an eval_dataset metric."
            )
        if best == "benchmark/no_answer_rate":  # lower is better (unset: false, as transformers does for a loss)
            if self.greater_is_better:
                raise ValueError(
                    f"metric_for_best_model={best!r} with greater_is_better=true would keep the checkpoint that "
                    f"answers least; set greater_is_better: false (or leave it unset: false is then the default)."
                )
            self.greater_is_better = False
        strategy = str(getattr(self.save_strategy, "value", self.save_strategy))
        if strategy == "steps" and self.save_steps >= 1 and self.benchmark_eval_steps % int(self.save_steps):
            raise ValueError(
                f"metric_for_best_model={best!r} with save_strategy=steps: every benchmark evaluation step must be a "
                f"save step (benchmark_eval_steps={self.benchmark_eval_steps}, save_steps={self.save_steps}), or the "
                f"best one may have no checkpoint. Use save_strategy: best (saves exactly when {best} improves)."
            )
        if self.load_best_model_at_end and strategy != "best":
            raise ValueError(
                f"load_best_model_at_end with metric_for_best_model={best!r}: set save_strategy: best (transformers "
                f"only allows it with save_strategy=best when eval_strategy is 'no', and the benchmark is not the "
                f"Trainer's eval_dataset evaluation)."
            )
