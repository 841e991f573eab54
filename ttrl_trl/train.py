"""``python -m ttrl_trl.train --config recipes/....yaml``: TTRL on a benchmark's unlabelled questions.

Same conventions as TRL's own scripts: a YAML recipe through ``TrlParser``, any field
overridable on the command line (``--learning_rate 1e-6``), and ``accelerate launch`` for
multi-GPU, DeepSpeed and FSDP. The dataset is loaded and checked before any model is loaded,
so a wrong column name fails in seconds, not after a 7B download.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, ModelConfig, TrlParser, get_peft_config

from ttrl_trl.data import (
    ANSWER_COLUMN_CANDIDATES,
    DEFAULT_SYSTEM_PROMPT,
    DatasetError,
    load_problems,
    system_prompt_text,
)
from ttrl_trl.hub import hub_model_error
from ttrl_trl.model_card import save_run_record
from ttrl_trl.options import unknown_option_message
from ttrl_trl.paths import missing_path_error
from ttrl_trl.quiet import ignore_known_warnings
from ttrl_trl.training.benchmark_eval import load_benchmark
from ttrl_trl.training.config import TTRLConfig


@dataclass
class TTRLScriptArguments:
    """Which questions to adapt on, and how to read them."""

    dataset: str = field(
        default="aime24",
        metadata={
            "help": "aime24 | amc | math500 (shipped, offline), aime25 (Hub: math-ai/aime25), a Hub dataset id, or a "
            "local .json/.jsonl/.parquet file."
        },
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Folder whose <name>.json (TTRL layout) replaces a benchmark name's shipped file or Hub copy."},
    )
    dataset_split: str | None = field(default=None, metadata={"help": "Split of a Hub dataset (default: its own)."})
    problem_column: str | None = field(default=None, metadata={"help": "Column with the question text."})
    answer_column: str | None = field(
        default=None,
        metadata={
            "help": "Column with gold answers (optional; only logged, never rewarded). Same as --ground_truth_column; "
            "auto-detected: answer, solution_answer, final_answer."
        },
    )
    system_prompt: str | None = field(
        default=DEFAULT_SYSTEM_PROMPT,
        metadata={"help": "System message sent with every question; 'none' (or '') sends the question alone."},
    )
    max_problems: int | None = field(default=None, metadata={"help": "Use only the first N questions."})


class UsageError(ValueError):
    """Input that cannot work (``main`` prints it as one line and exits 2, before any model loads), or a push at
    the end that failed (the same line and exit code as ``ttrl_trl.push``, after the model is saved)."""


# The options a TTRL user sets most, for the short `--help` (the full list is 1,300+ lines of TRL's).
SHORT_HELP_FIELDS = (
    "model_name_or_path", "output_dir", "num_generations", "per_device_train_batch_size", "learning_rate",
    "max_steps", "num_train_epochs", "temperature", "max_completion_length", "beta", "loss_type", "use_peft",
    "use_vllm", "vllm_mode", "report_to", "push_to_hub", "hub_model_id", "resume_from_checkpoint",
)  # fmt: skip


# TRL's help for the options whose behaviour ttrl_trl.train changes.
HELP_OVERRIDES = {
    "push_to_hub": "Push the final model and its TTRL card to hub_model_id once training ends (through "
    "ttrl_trl.push; offline, one line and exit 2, the saved folder kept).",
    "hub_model_id": "owner/name of the Hub repository that --push_to_hub creates or updates (required with it).",
}


def _dataclasses() -> tuple[type, ...]:
    return (TTRLScriptArguments, TTRLConfig, ModelConfig)


def _all_fields() -> dict[str, str]:
    """Every option the recipe or command line may set, with its help text."""
    return {
        f.name: HELP_OVERRIDES.get(f.name, f.metadata.get("help", "")) for cls in _dataclasses() for f in fields(cls)
    }


def _defaults() -> dict[str, Any]:
    """Every option's default as the parser sees it (TTRLConfig's overrides of TRL's included)."""
    out: dict[str, Any] = {}
    for cls in _dataclasses():
        for f in fields(cls):
            if f.default is not MISSING:
                out[f.name] = f.default
            elif f.default_factory is not MISSING:
                out[f.name] = f.default_factory()
    return out


def _first_sentence(text: str) -> str:
    """TRL's help texts run to paragraphs; the short help keeps their first sentence."""
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def short_help() -> str:
    """`--help`: `--config` first, then TTRL's own options, then the most used TRL ones."""
    known, defaults = _all_fields(), _defaults()
    ours = [f.name for f in fields(TTRLScriptArguments)] + [
        f.name for f in fields(TTRLConfig) if f.name not in {g.name for g in fields(GRPOConfig)}
    ]

    def block(names: list[str] | tuple[str, ...], shorten: bool = False) -> list[str]:
        def text(name: str) -> str:
            help_text = _first_sentence(known[name]) if shorten else " ".join(known[name].split())
            default = getattr(defaults.get(name), "value", defaults.get(name))  # an Enum as its value
            return f"{help_text} (default: {default})"

        return [f"  --{name:<28} {text(name)}" for name in names]

    return "\n".join(
        [
            "usage: python -m ttrl_trl.train --config RECIPE.yaml [--FIELD VALUE ...]",
            "",
            "Test-Time RL on a benchmark's unlabelled questions. Every recipe field can be overridden here.",
            "",
            "  --config                       YAML recipe (recipes/<Model>/ttrl/<benchmark>.yaml, recipes/tiny/...)",
            "",
            "Data and TTRL / Trust Region Masking options:",
            *block(ours),
            "",
            "Most used GRPO / training / model options (first sentence of their help):",
            *block(SHORT_HELP_FIELDS, shorten=True),
            "",
            f"All {len(known)} options (TRL's GRPOConfig, transformers' TrainingArguments, ModelConfig): "
            "python -m ttrl_trl.train --help_all",
        ]
    )


def parse_args(argv: list[str] | None = None) -> tuple[TTRLScriptArguments, TTRLConfig, ModelConfig]:
    """Recipe + command line into the three configs; `--help` is short, `--help_all` is TRL's full list."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        print(short_help())
        raise SystemExit(0)
    argv = ["--help" if a == "--help_all" else a for a in argv]
    parser = TrlParser(_dataclasses())
    try:
        *configs, from_recipe, from_cli = parser.parse_args_and_config(
            argv, return_remaining_strings=True, separate_remaining_strings=True
        )
    except ValueError as err:
        raise UsageError(" ".join(str(err).split())) from err
    for source, strings in (("the recipe", from_recipe), ("the command line", from_cli)):
        if strings:
            raise UsageError(unknown_option_message(strings, _all_fields(), source, "python -m ttrl_trl.train --help"))
    script_args, training_args, model_args = configs
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


def gold_column(script_args: TTRLScriptArguments, training_args: TTRLConfig) -> str | None:
    """The gold column the user named, by either option (they name the same thing); None = auto-detect.

    ``ground_truth_column``'s default (``answer``) counts as "not set", so the detection of
    ``answer`` / ``solution_answer`` / ``final_answer`` applies.
    """
    default = TTRLConfig.__dataclass_fields__["ground_truth_column"].default
    by_truth = None if training_args.ground_truth_column == default else training_args.ground_truth_column
    by_answer = script_args.answer_column
    if by_truth and by_answer and by_truth != by_answer:
        raise UsageError(
            f"--answer_column {by_answer!r} and --ground_truth_column {by_truth!r} name different gold columns; "
            f"pass only one of them."
        )
    return by_answer or by_truth


def load_training_dataset(
    script_args: TTRLScriptArguments, training_args: TTRLConfig
) -> tuple[Dataset, Dataset | None]:
    """The questions (and gold answers, renamed ``answer``, if any), and the benchmark to evaluate on during
    training (None unless ``benchmark_eval_steps`` is set); warns when there are no gold answers to log."""
    source = {
        "dataset": script_args.dataset,
        "split": script_args.dataset_split,
        "problem_column": script_args.problem_column,
        "answer_column": gold_column(script_args, training_args),
        "system_prompt": script_args.system_prompt,
        "data_dir": script_args.data_dir,
        "max_problems": script_args.max_problems,
    }
    try:
        dataset = load_problems(**source)
        benchmark = load_benchmark(training_args, source)
    except DatasetError as err:
        raise UsageError(str(err)) from err
    training_args.ground_truth_column = "answer"  # load_problems renames the gold column (if any) to "answer"
    if "answer" not in dataset.column_names:
        print(
            f"ttrl-train: warning: dataset {script_args.dataset!r} has no gold-answer column (looked for "
            f"{', '.join(ANSWER_COLUMN_CANDIDATES)}); training runs, but label_accuracy and the other accuracy "
            f"metrics are not logged. Name one with --ground_truth_column <column>.",
            file=sys.stderr,
        )
    return dataset, benchmark


def train(argv: list[str] | None = None) -> None:
    """Parse, check, load the data, train, save, write the card (and push if asked)."""
    script_args, training_args, model_args = parse_args(argv)
    if model_args.model_name_or_path is None:
        raise UsageError("set `model_name_or_path` (a Hub id or a local folder) in the recipe or on the CLI.")
    missing = missing_path_error(
        model_args.model_name_or_path, "model_name_or_path", "a saved model folder or a Hub id (owner/name)"
    )
    if missing:
        raise UsageError(missing)
    on_hub = hub_model_error(model_args.model_name_or_path, "model_name_or_path", model_args.model_revision)
    if on_hub:
        raise UsageError(on_hub)
    push = take_push(training_args)
    dataset, benchmark = load_training_dataset(script_args, training_args)

    # Imported late so that `--help` and data errors do not pay for torch + TRL's trainer import.
    from ttrl_trl.training.trainer import TTRLTrainer

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
    checkpoint = resolve_checkpoint(training_args)
    if checkpoint is not None:
        print(f"resuming from {checkpoint} (step {checkpoint_step(checkpoint)})", flush=True)
    try:
        with tied_weights_not_missing(trainer.model):
            trainer.train(resume_from_checkpoint=checkpoint)
    except KeyboardInterrupt:
        close_progress_bars(trainer)
        raise TrainingInterrupted(interrupted_message(training_args, trainer.state.global_step)) from None
    output_dir = Path(training_args.output_dir)
    save_trained(trainer, output_dir, run_record(script_args, model_args, len(dataset)))
    print(f"trained model and its card (README.md): {output_dir}")
    if push and trainer.is_world_process_zero():
        from ttrl_trl.push import PushError, publish

        try:
            url = publish(output_dir, training_args.hub_model_id, training_args.hub_private_repo is True,
                          token=training_args.hub_token)  # fmt: skip
        except PushError as err:
            raise UsageError(
                f"{err} Retry with `python -m ttrl_trl.push --model_dir {output_dir} --hub_model_id "
                f"{training_args.hub_model_id}`."
            ) from err
        print(f"pushed to {url}")


class TrainingInterrupted(Exception):
    """Ctrl-C during training or saving; the message says where the last checkpoint is and how to resume."""


def take_push(training_args: TTRLConfig) -> bool:
    """Whether to push at the end, through ``ttrl_trl.push`` (the TTRL card, one-line errors) rather than TRL's
    push, which would create the repo before training and push every checkpoint with TRL's card."""
    if not training_args.push_to_hub:
        return False
    if not training_args.hub_model_id:
        raise UsageError("--push_to_hub needs --hub_model_id owner/name: the Hub repository to create or update.")
    training_args.push_to_hub = False
    return True


def run_record(script_args: TTRLScriptArguments, model_args: ModelConfig, num_problems: int) -> dict[str, Any]:
    """What the model card needs beyond training_args.bin: the data and prompt trained on, and the base model."""
    return {
        "base_model": model_args.model_name_or_path,
        "dataset": script_args.dataset,
        "data_dir": script_args.data_dir,
        "dataset_split": script_args.dataset_split,
        "max_problems": script_args.max_problems,
        "num_problems": num_problems,
        "system_prompt": system_prompt_text(script_args.system_prompt),
    }


def close_progress_bars(trainer: Any) -> None:
    """Close the trainer's progress bar now, so that it is not redrawn under the interruption's one line."""
    from transformers.trainer_callback import ProgressCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, ProgressCallback) and callback.training_bar is not None:
            callback.training_bar.close()
            callback.training_bar = None


def checkpoint_step(checkpoint: str | Path) -> int | str:
    """The global step a checkpoint was saved at (its trainer_state.json, else its folder name)."""
    state = Path(checkpoint) / "trainer_state.json"
    if state.is_file():
        return json.loads(state.read_text()).get("global_step", "?")
    return Path(checkpoint).name.rpartition("-")[2] or "?"


def interrupted_message(training_args: TTRLConfig, step: int) -> str:
    """Where an interrupted run stands: its last checkpoint and how to resume from it, or that there is none."""
    output_dir = training_args.output_dir
    last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
    if last is None:
        return (
            f"interrupted at step {step}, before the first checkpoint (save_steps: {training_args.save_steps}); "
            f"nothing was saved, rerun the command to start again."
        )
    return (
        f"interrupted at step {step}; the last checkpoint is {last} (step {checkpoint_step(last)}). Resume with the "
        f"same command and `--resume_from_checkpoint true`."
    )


def save_trained(trainer: Any, output_dir: Path, record: dict[str, Any]) -> None:
    """The final model, then its records, then the card: last, so a card always describes a saved model. Ctrl-C
    while saving removes what this save wrote, so no half-written model is left looking like a model."""
    written_before = (
        {p: p.stat().st_mtime_ns for p in output_dir.iterdir() if p.is_file()} if output_dir.is_dir() else {}
    )
    try:
        trainer.save_model(str(output_dir))
        if trainer.is_world_process_zero():
            save_run_record(output_dir, record)
            trainer.save_state()
        trainer.create_model_card()
    except KeyboardInterrupt:
        if trainer.is_world_process_zero():
            for path in output_dir.iterdir():
                if path.is_file() and written_before.get(path) != path.stat().st_mtime_ns:
                    path.unlink()
        raise TrainingInterrupted(
            f"interrupted while saving the final model; its partial files were removed from {output_dir}. "
            + interrupted_message(trainer.args, trainer.state.global_step).partition("; ")[2]
        ) from None


MISSING_KEYS = "There were missing keys in the checkpoint model loaded: "
"""transformers' warning on resume; for a tied lm_head it is a false alarm (the weight is saved once, shared)."""


class _TiedWeightsNotMissing(logging.Filter):
    """Drops the missing-keys warning only when every key it names is a weight tied to another one."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        by_storage: dict[int, list[str]] = {}
        for name, parameter in model.named_parameters(remove_duplicate=False):
            by_storage.setdefault(parameter.data_ptr(), []).append(name)
        self.tied = {name for names in by_storage.values() if len(names) > 1 for name in names}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(MISSING_KEYS):
            return True
        try:
            keys = ast.literal_eval(message[len(MISSING_KEYS) :].strip().rstrip("."))
        except (ValueError, SyntaxError):
            return True
        return not (keys and set(keys) <= self.tied)


@contextmanager
def tied_weights_not_missing(model: Any) -> Iterator[None]:
    """While resuming: transformers' "missing keys ['lm_head.weight']" silenced for tied weights, and only them."""
    trainer_logger = logging.getLogger("transformers.trainer")
    quiet = _TiedWeightsNotMissing(model)
    trainer_logger.addFilter(quiet)
    try:
        yield
    finally:
        trainer_logger.removeFilter(quiet)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point: bad input exits 2 with one line on stderr, before any model is loaded; Ctrl-C exits 130
    with one line saying where the last checkpoint is."""
    ignore_known_warnings()
    main_process = int(os.environ.get("RANK", "0")) == 0
    try:
        train(argv)
    except UsageError as err:
        print(f"ttrl-train: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except TrainingInterrupted as err:
        if main_process:
            print(f"\nttrl-train: {err}", file=sys.stderr)
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        if main_process:
            print("\nttrl-train: interrupted before training started; nothing was saved.", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
