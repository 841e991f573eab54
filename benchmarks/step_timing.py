"""Shared timing harness for the trainer benchmarks: median optimiser-step time on the tiny model.

TRL logs ``step_time`` (wall time of one optimiser step: generation, voting, forward, backward)
every logging step. We train for ``warmup + steps`` steps and take the median of the last
``steps`` values, so one-off costs (first-call compilation, the grader's worker start) do not
count. Generation is real (sampling from the tiny model), seeded the same way for every
variant, so the compared trainers see the same token streams.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer
from transformers.trainer_callback import PrinterCallback, TrainerCallback

from ttrl_trl.data import load_problems
from ttrl_trl.tiny import CPU_TRAINING_ARGS, build_tiny_model

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "data" / "aime24.json"


def parse_benchmark_args(doc: str, output: str) -> argparse.Namespace:
    """The options both trainer benchmarks take; also sets torch's thread count."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--steps", type=int, default=8, help="timed optimiser steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of all variants")
    parser.add_argument("--num_generations", type=int, default=8)
    parser.add_argument("--prompts_per_step", type=int, default=2)
    parser.add_argument("--max_completion_length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path(output))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def base_config(args: argparse.Namespace) -> dict[str, Any]:
    """Trainer settings shared by every variant of a benchmark."""
    return dict(
        per_device_train_batch_size=args.num_generations * args.prompts_per_step,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        learning_rate=1e-5,
        beta=0.0,
    )


def write_report(report: dict[str, Any], args: argparse.Namespace, keys: tuple[str, ...]) -> None:
    report["settings"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k.startswith(keys)}, indent=2))
    print(f"written to {args.output}")


def tiny_model(folder: Path) -> Path:
    return build_tiny_model(folder / "tiny-model", hidden_size=128, num_layers=3, num_heads=4)


class StepCpuTime(TrainerCallback):
    """CPU time of this process per optimiser step. With torch on one thread it is the step's own work:
    unlike wall time it does not grow when other jobs load a shared machine (the math-verify helper
    process is not counted; on the benchmarks' integer answers it is not called)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs) -> None:
        self._start = time.process_time()

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self.times.append(time.process_time() - self._start)


def median_step_time(
    trainer_cls: type,
    config_cls: type,
    model_path: Path,
    dataset_path: Path,
    steps: int,
    warmup: int,
    seed: int = 0,
    reward_funcs: list[Any] | None = None,
    training_args: dict[str, Any] = CPU_TRAINING_ARGS,
    processing_class: Any = None,
    callbacks: list[Any] | None = None,
    peft_config: Any = None,
    **config: Any,
) -> dict[str, Any]:
    """Train ``warmup + steps`` optimiser steps and return the median and spread of ``step_time`` (and CPU times).

    ``training_args`` are the device settings (the CPU ones by default; the GPU check passes bf16 and
    gradient checkpointing); ``callbacks`` and ``peft_config`` go to the trainer, ``config`` to the
    trainer's config. ``processing_class`` defaults to the tokenizer saved with the model.
    """
    cpu = StepCpuTime()
    trainer_kwargs: dict[str, Any] = {"callbacks": [*(callbacks or []), cpu], "peft_config": peft_config}
    if reward_funcs is not None:
        trainer_kwargs["reward_funcs"] = reward_funcs
    torch.manual_seed(seed)
    dataset = load_problems(str(dataset_path), system_prompt=None)
    with tempfile.TemporaryDirectory() as out:
        args = config_cls(
            output_dir=out,
            max_steps=warmup + steps,
            logging_steps=1,
            **training_args,
            seed=seed,
            disable_tqdm=True,
            **config,
        )
        trainer = trainer_cls(
            model=str(model_path),
            args=args,
            train_dataset=dataset,
            processing_class=processing_class or AutoTokenizer.from_pretrained(model_path),
            **trainer_kwargs,
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    log_history = trainer.state.log_history
    times = [h["step_time"] for h in log_history if "step_time" in h][warmup:]
    return {
        "median_s": statistics.median(times), "times_s": times, "cpu_times_s": cpu.times[warmup:],
        "log_history": log_history,
    }  # fmt: skip


def paired_ratio(numerator: list[list[float]], denominator: list[list[float]]) -> float:
    """Median over rounds and steps of time ratios between runs that did the same work.

    Variants of one round share the seed, hence the sampled tokens (checked: identical losses),
    so step ``i`` of one is step ``i`` of the other plus the variant's own cost. Pairing removes
    the large step-to-step spread that completion lengths cause.
    """
    return statistics.median(a / b for run_a, run_b in zip(numerator, denominator) for a, b in zip(run_a, run_b))
