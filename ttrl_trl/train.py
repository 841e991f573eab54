"""``python -m ttrl_trl.train --config recipes/....yaml``: TTRL on a benchmark's unlabelled questions.

Same conventions as TRL's own scripts: a YAML recipe through ``TrlParser``, any field
overridable on the command line (``--learning_rate 1e-6``), and ``accelerate launch`` for
multi-GPU, DeepSpeed and FSDP. The dataset is loaded and checked before any model is loaded,
so a wrong column name fails in seconds, not after a 7B download.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers.trainer_utils import get_last_checkpoint
from trl import ModelConfig, TrlParser, get_peft_config

from ttrl_trl.benchmark_eval import load_benchmark
from ttrl_trl.config import TTRLConfig
from ttrl_trl.data import DEFAULT_SYSTEM_PROMPT, DatasetError, load_problems


@dataclass
class TTRLScriptArguments:
    """Which questions to adapt on, and how to read them."""

    dataset: str = field(
        default="aime24",
        metadata={"help": "aime24 | amc | math500, a Hub dataset id, or a local .json/.jsonl/.parquet file."},
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "Folder with <name>.json TTRL files for the named benchmarks (offline)."}
    )
    dataset_split: str | None = field(default=None, metadata={"help": "Split of a Hub dataset (default: its own)."})
    problem_column: str | None = field(default=None, metadata={"help": "Column with the question text."})
    answer_column: str | None = field(
        default=None, metadata={"help": "Column with gold answers (optional; only logged, never rewarded)."}
    )
    system_prompt: str | None = field(
        default=DEFAULT_SYSTEM_PROMPT,
        metadata={"help": "System message sent with every question; 'none' sends the question alone."},
    )
    max_problems: int | None = field(default=None, metadata={"help": "Use only the first N questions."})


def parse_args(argv: list[str] | None = None) -> tuple[TTRLScriptArguments, TTRLConfig, ModelConfig]:
    parser = TrlParser((TTRLScriptArguments, TTRLConfig, ModelConfig))
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(argv)
    except ValueError as err:
        if "Unknown arguments from config file" in str(err):
            raise SystemExit(
                f"error: the recipe has a field that TTRLConfig, TTRLScriptArguments and ModelConfig do not know: "
                f"{err}. Check its spelling against `python -m ttrl_trl.train --help`."
            ) from err
        raise SystemExit(f"error: {err}") from err
    if isinstance(script_args.system_prompt, str) and script_args.system_prompt.lower() in ("", "none", "null"):
        script_args.system_prompt = None
    return script_args, training_args, model_args


def resolve_checkpoint(training_args: TTRLConfig) -> str | None:
    """``--resume_from_checkpoint true`` means the newest checkpoint in output_dir, as in TRL's scripts."""
    resume = training_args.resume_from_checkpoint
    if resume is None or str(resume).lower() in ("false", "none", ""):
        return None
    if str(resume).lower() in ("true", "last", "latest"):
        last = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
        if last is None:
            print(f"No checkpoint in {training_args.output_dir}; starting from scratch.", file=sys.stderr)
        return last
    return str(resume)


def main(argv: list[str] | None = None) -> None:
    script_args, training_args, model_args = parse_args(argv)
    if model_args.model_name_or_path is None:
        raise SystemExit("error: set `model_name_or_path` (a Hub id or a local folder) in the recipe or on the CLI.")
    source = {
        "dataset": script_args.dataset,
        "split": script_args.dataset_split,
        "problem_column": script_args.problem_column,
        "answer_column": script_args.answer_column,
        "system_prompt": script_args.system_prompt,
        "data_dir": script_args.data_dir,
        "max_problems": script_args.max_problems,
    }
    try:
        dataset = load_problems(**source)
        benchmark = load_benchmark(training_args, source)  # None unless benchmark_eval_steps is set
    except DatasetError as err:
        raise SystemExit(f"error: {err}") from err
    training_args.ground_truth_column = "answer"  # load_problems renames the gold column (if any) to "answer"

    # Imported late so that `--help` and data errors do not pay for torch + TRL's trainer import.
    from ttrl_trl.trainer import TTRLTrainer

    training_args.model_init_kwargs = {
        **(training_args.model_init_kwargs or {}),
        "dtype": model_args.dtype,
        "revision": model_args.model_revision,
        **({"attn_implementation": model_args.attn_implementation} if model_args.attn_implementation else {}),
    }
    trainer = TTRLTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
        benchmark_dataset=benchmark,
    )
    trainer.train(resume_from_checkpoint=resolve_checkpoint(training_args))
    trainer.save_model(training_args.output_dir)
    dataset_name = Path(script_args.dataset).stem if Path(script_args.dataset).suffix else script_args.dataset
    trainer.create_model_card(model_name=Path(training_args.output_dir).name, dataset_name=dataset_name)
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=dataset_name)


if __name__ == "__main__":
    main()
