"""EvalConfig: every setting of one evaluation run, and the checks that run before any model loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ttrl_trl.data import BENCHMARKS, DEFAULT_SYSTEM_PROMPT
from ttrl_trl.paths import missing_path_error

BACKENDS = ("auto", "vllm", "transformers")
DTYPES = ("auto", "float32", "float16", "bfloat16")


class EvalConfigError(ValueError):
    """A setting that cannot work; the message names the field and the fix."""


@dataclass
class EvalConfig:
    """Everything one evaluation run needs; the command line is generated from these fields."""

    model_name_or_path: str = field(
        metadata={"help": "Hub id or local folder; a folder with adapter_config.json is a PEFT LoRA adapter."}
    )
    dataset: str = field(
        default="aime24",
        metadata={"help": f"Benchmark name ({', '.join(BENCHMARKS)}), local .json/.jsonl/.parquet file, or Hub id."},
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Folder whose <name>.json (TTRL layout) replaces a benchmark name's shipped file or Hub copy."},
    )
    split: str | None = field(default=None, metadata={"help": "Dataset split (Hub datasets only)."})
    problem_column: str | None = field(default=None, metadata={"help": "Column holding the problem text."})
    answer_column: str | None = field(default=None, metadata={"help": "Column holding the gold answer."})
    system_prompt: str | None = field(
        default=DEFAULT_SYSTEM_PROMPT,
        metadata={"help": 'System message; "none" (or "") sends the problem alone. Must match the training prompt.'},
    )
    max_problems: int | None = field(default=None, metadata={"help": "Evaluate only the first N problems."})
    num_samples: int = field(default=16, metadata={"help": "k: completions sampled per problem."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature; 0 is greedy (needs k = 1)."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling probability mass."})
    max_new_tokens: int = field(default=3072, metadata={"help": "Maximum response length in tokens."})
    seed: int = field(default=42, metadata={"help": "Random seed for sampling."})
    batch_size: int = field(default=8, metadata={"help": "Prompts per generate call (transformers backend)."})
    backend: str = field(
        default="auto", metadata={"help": "vllm, transformers, or auto (vLLM if installed and CUDA is available)."}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where to write generations.jsonl and summary.json (outputs/eval/<dataset>)."}
    )
    pass_at: list[int] = field(default_factory=list, metadata={"help": "Extra k' <= k to report pass@k' for."})
    compare: str | None = field(
        default=None, metadata={"help": "Another run's summary.json to print side by side with this one."}
    )
    dtype: str = field(default="auto", metadata={"help": f"Model weights dtype: {', '.join(DTYPES)}."})


def check(condition: bool, message: str) -> None:
    if not condition:
        raise EvalConfigError(message)


def validate_config(config: EvalConfig) -> None:
    """Reject impossible settings up front, one clear message each, before any heavy work."""
    missing = missing_path_error(
        config.model_name_or_path, "--model_name_or_path", "a saved model or adapter folder, or a Hub id (owner/name)"
    )
    check(missing is None, missing or "")
    k = config.num_samples
    check(k >= 1, f"num_samples={k}: at least one sample per problem is needed; pass `--num_samples 16` (the paper).")
    bad = sorted(j for j in config.pass_at if not 1 <= j <= k)
    check(
        not bad,
        f"pass_at={config.pass_at}: {bad} not in 1..num_samples={k}; pass@k' needs k' <= k samples. "
        f"Raise `--num_samples` or drop those values.",
    )
    check(config.temperature >= 0, f"temperature={config.temperature} is negative; use 0 (greedy) or e.g. 0.6.")
    check(
        config.temperature > 0 or k == 1,
        f"temperature=0 is greedy decoding, so all num_samples={k} samples would be identical; "
        f"pass `--num_samples 1` for greedy, or a temperature > 0 to sample.",
    )
    check(0 < config.top_p <= 1, f"top_p={config.top_p} must be in (0, 1]; the paper uses 0.95.")
    check(config.max_new_tokens >= 1, f"max_new_tokens={config.max_new_tokens} must be >= 1 (the paper: 3072).")
    check(config.batch_size >= 1, f"batch_size={config.batch_size} must be >= 1.")
    check(
        config.max_problems is None or config.max_problems >= 1,
        f"max_problems={config.max_problems} must be >= 1, or left unset to evaluate every problem.",
    )
    check(config.backend in BACKENDS, f"backend={config.backend!r} is not one of {list(BACKENDS)}.")
    check(config.dtype in DTYPES, f"dtype={config.dtype!r} is not one of {list(DTYPES)}.")
    out = Path(config.output_dir) if config.output_dir else None
    check(out is None or not out.is_file(), f"output_dir={config.output_dir!r} is a file; pass a folder.")
    if config.compare is not None:
        from ttrl_trl.evaluation.compare import load_summary

        load_summary(config.compare)
