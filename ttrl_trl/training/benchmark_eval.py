"""Benchmark evaluation during training: the paper's avg@k curve, logged by the trainer's own loggers.

The paper measures its models every 2 (verl) steps on the benchmark it adapts to: 16 samples per
problem at temperature 0.6, top-p 0.95. ``BenchmarkEvalCallback`` does the same every
``benchmark_eval_steps`` optimiser steps and at the last step:

* prompts come from :mod:`ttrl_trl.data` and samples are graded by :mod:`ttrl_trl.vote.voting` and
  summarised by :func:`ttrl_trl.evaluation.metrics.summarize`, the code behind ``ttrl_trl.evaluate``; the
  transformers path also samples as it does (same chunks, same per-chunk seeds, same settings), so
  an evaluation of a saved checkpoint with the same seed reproduces the logged figures;
* generation uses the trainer's vLLM engine when it has one (colocate or server, with the
  evaluation's sampling settings swapped in for the call), else the unwrapped policy with
  ``generate``; the RNG state of training is restored afterwards, so evaluating never changes
  what training samples;
* with several processes the problems are split over ranks, the graded problems gathered, and
  every rank computes the same metrics (so all agree on a new best checkpoint); the trainer logs
  them from the main process, with the step's row, as ``benchmark/pass@1``, ``benchmark/maj@{k}``,
  ``benchmark/pass@{k}``, ``benchmark/no_answer_rate`` and ``benchmark/seconds`` (its cost);
* ``metric_for_best_model: benchmark/pass@1`` (with ``save_strategy: best`` and, optionally,
  ``load_best_model_at_end``) keeps the best checkpoint through transformers' own machinery.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datasets import Dataset
from transformers import TrainerCallback
from transformers.trainer_utils import SaveStrategy

from ttrl_trl.data import DatasetError, load_problems
from ttrl_trl.evaluation.generation import prompt_token_ids
from ttrl_trl.evaluation.metrics import summarize
from ttrl_trl.evaluation.scoring import grade_samples
from ttrl_trl.evaluation.transformers_backend import sample_completions

PREFIX = "benchmark/"


@dataclass(frozen=True)
class SampleSettings:
    """How the benchmark is sampled (the fields of ``ttrl_trl.evaluate.EvalConfig`` that matter)."""

    num_samples: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    batch_size: int

    @classmethod
    def from_config(cls, args: Any) -> SampleSettings:
        return cls(
            num_samples=args.benchmark_eval_num_samples,
            temperature=args.benchmark_eval_temperature,
            top_p=args.benchmark_eval_top_p,
            max_new_tokens=args.benchmark_eval_max_new_tokens,
            seed=args.seed,
            batch_size=args.benchmark_eval_batch_size,
        )


# ------------------------------------------------------------------------------------------ data
def load_benchmark(args: Any, train_source: Mapping[str, Any]) -> Dataset | None:
    """The benchmark's rows (``problem``, ``prompt``, ``answer``), loaded before any model.

    ``train_source`` holds the ``load_problems`` arguments of the training set, which is the
    default benchmark (TTRL evaluates on the questions it adapts to). A named benchmark keeps the
    training set's ``data_dir`` and system prompt but finds its own columns.
    """
    if not args.benchmark_eval_enabled:
        return None
    source = dict(train_source)
    field = "benchmark_eval_dataset"
    if args.benchmark_eval_dataset is None:
        field = f"benchmark_eval_dataset (default: the training dataset {source['dataset']!r})"
    else:
        source = {key: source.get(key) for key in ("data_dir", "system_prompt")} | {"dataset": args.benchmark_eval_dataset}
    limits = [n for n in (source.pop("max_problems", None), args.benchmark_eval_max_problems) if n is not None]
    try:
        return load_problems(**source, require_answer=True, max_problems=min(limits) if limits else None)
    except DatasetError as err:
        raise DatasetError(
            f"{field}: {err} Benchmark evaluation grades against gold answers; point benchmark_eval_dataset at a "
            f"dataset with an answer column, or set benchmark_eval_steps: 0."
        ) from err


# ------------------------------------------------------------------------------------------ grading
def grade_problem(gold: Any, texts: Sequence[str]) -> dict[str, Any]:
    """One problem's graded samples and vote, in the record layout that ``metrics.summarize`` reads."""
    samples, vote = grade_samples(texts, None if gold is None else str(gold))
    # The texts stay on this rank: only answers and grades are gathered.
    return {
        "samples": [{"answer": s["answer"], "correct": s["correct"]} for s in samples],
        "maj_correct": vote.correct,
    }


def benchmark_metrics(records: Sequence[Mapping[str, Any]], k: int) -> dict[str, float]:
    """``benchmark/pass@1`` (avg@k), ``benchmark/maj@k``, ``benchmark/pass@k``, ``benchmark/no_answer_rate``."""
    summary = summarize(records, k)
    return {f"{PREFIX}{name}": float(value) for name, value in summary.items() if "@" in name or name.endswith("rate")}


def rank_slice(n: int, world: int, rank: int) -> tuple[range, int]:
    """This rank's contiguous share of ``n`` problems, and the size every rank pads to (collectives need it)."""
    per_rank = max(1, math.ceil(n / world))
    return range(min(n, rank * per_rank), min(n, (rank + 1) * per_rank)), per_rank


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Seed freely inside; python, numpy and torch (CPU and CUDA) generators are put back afterwards."""
    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


# ------------------------------------------------------------------------------------------ generation
@contextlib.contextmanager
def _swapped(obj: Any, **values: Any) -> Iterator[None]:
    old = {name: getattr(obj, name) for name in values}
    for name, value in values.items():
        setattr(obj, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(obj, name, value)


def vllm_generate(trainer: Any, prompts: Sequence[Any], s: SampleSettings) -> list[list[str]]:
    """k samples per prompt from the trainer's vLLM engine (TRL's ``VLLMGeneration``), with the
    evaluation's sampling settings in place of training's for this one call."""
    tokenizer, k, engine = trainer.processing_class, s.num_samples, trainer.vllm_generation
    if trainer.state.global_step != trainer._last_loaded_step:  # the engine must hold the current weights
        engine.sync_weights()
        trainer._last_loaded_step = trainer.state.global_step
    ids = prompt_token_ids(tokenizer, prompts)
    sampling = {
        "temperature": s.temperature,
        "top_p": s.top_p if s.temperature > 0 else 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "max_completion_length": s.max_new_tokens,
        "generation_kwargs": {},
    }
    with _swapped(engine, **sampling):
        _, completion_ids, _, _ = engine.generate(
            prompts=[p for p in ids for _ in range(k)], images=None, num_generations=k
        )
    texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
    return [texts[i * k : (i + 1) * k] for i in range(len(ids))]


def generate_local(trainer: Any, prompts: Sequence[Any], s: SampleSettings, first_index: int) -> list[list[str]]:
    """This rank's samples: vLLM when the trainer has it, else its unwrapped policy in eval mode."""
    if trainer.use_vllm:
        return vllm_generate(trainer, prompts, s)
    from trl.models import unwrap_model_for_generation

    dist = getattr(trainer, "_dist", None)  # FSDP: full parameters for generate (as TRL's own generation)
    with (
        unwrap_model_for_generation(
            trainer.model_wrapped,
            trainer.accelerator,
            gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
            gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
        ) as model,
        dist.summon_full_params(trainer.model_wrapped, recurse=False) if dist is not None else contextlib.nullcontext(),
    ):
        was_training = model.training
        model.eval()
        try:
            return sample_completions(model, trainer.processing_class, prompts, s, seed=s.seed + first_index)
        finally:
            model.train(was_training)


def evaluate_benchmark(trainer: Any, rows: Sequence[Mapping[str, Any]], s: SampleSettings) -> dict[str, float]:
    """Split the problems over ranks, sample and grade them, gather, and return the metrics (same on every rank)."""
    from accelerate.utils import gather_object

    accelerator = trainer.accelerator
    mine, per_rank = rank_slice(len(rows), accelerator.num_processes, accelerator.process_index)
    local = [rows[i] for i in mine]
    padded = local + [rows[0]] * (per_rank - len(local))  # equal work per rank; the padding is dropped below
    with preserved_rng():
        completions = generate_local(trainer, [r["prompt"] for r in padded], s, first_index=mine.start)
    graded = [(i, grade_problem(row.get("answer"), texts)) for i, row, texts in zip(mine, local, completions)]
    records = [record for _, record in sorted(gather_object(graded), key=lambda pair: pair[0])]
    return benchmark_metrics(records, s.num_samples)


# ------------------------------------------------------------------------------------------ callback
class BenchmarkEvalCallback(TrainerCallback):
    """Every ``benchmark_eval_steps`` optimiser steps and at the last one: evaluate, hand the metrics to
    the trainer's next log (this step's, forced), and tell transformers about a new best checkpoint."""

    def __init__(self, trainer: Any, benchmark: Dataset, answer_column: str = "answer") -> None:
        if answer_column not in benchmark.column_names or "prompt" not in benchmark.column_names:
            raise ValueError(
                f"benchmark_eval_dataset: the benchmark needs a 'prompt' and a gold {answer_column!r} column; it has "
                f"{benchmark.column_names}. Pass a dataset with answers (ttrl_trl.data.load_problems(..., "
                f"require_answer=True)), or set benchmark_eval_steps: 0."
            )
        self.trainer = trainer
        self.rows = [{"prompt": r["prompt"], "answer": r[answer_column]} for r in benchmark]
        self.settings = SampleSettings.from_config(trainer.args)

    def due(self, state: Any) -> bool:
        step, every = state.global_step, self.trainer.args.benchmark_eval_steps
        return step > 0 and (step % every == 0 or step == state.max_steps)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if not self.due(state):
            return control
        start = time.perf_counter()
        metrics = evaluate_benchmark(self.trainer, self.rows, self.settings)
        metrics[f"{PREFIX}seconds"] = time.perf_counter() - start  # what the evaluation costs, to tune its interval
        for name, value in metrics.items():  # TRL's `log` averages and logs `_metrics`, then clears it
            self.trainer._metrics["train"][name].append(value)
        control.should_log = True
        best = (args.metric_for_best_model or "").removeprefix("eval_")
        if best in metrics:
            # transformers' own bookkeeping: best_metric / best_global_step, then best_model_checkpoint on save.
            is_new_best = self.trainer._determine_best_metric({f"eval_{k}": v for k, v in metrics.items()}, trial=None)
            if args.save_strategy == SaveStrategy.BEST:
                control.should_save = is_new_best
        return control
