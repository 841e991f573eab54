"""EvalConfig: every setting of one evaluation run, and the checks that run before any model loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ttrl_trl.data import BENCHMARKS, DEFAULT_SYSTEM_PROMPT
from ttrl_trl.evaluation.compare import load_summary
from ttrl_trl.evaluation.errors import check
from ttrl_trl.evaluation.sampling import sampling_error
from ttrl_trl.paths import missing_path_error

BACKENDS = ("auto", "vllm", "transformers")
DTYPES = ("auto", "float32", "float16", "bfloat16")


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


def validate_config(config: EvalConfig) -> None:
    """Reject impossible settings up front, one clear message each, before any heavy work."""
    missing = missing_path_error(
        config.model_name_or_path, "--model_name_or_path", "a saved model or adapter folder, or a Hub id (owner/name)"
    )
    check(missing is None, missing or "")
    k = config.num_samples
    error = sampling_error(config)
    check(error is None, error or "")
    bad = sorted(j for j in config.pass_at if not 1 <= j <= k)
    check(
        not bad,
        f"pass_at={config.pass_at}: {bad} not in 1..num_samples={k}; pass@k' needs k' <= k samples. "
        f"Raise `--num_samples` or drop those values.",
    )
    check(config.backend in BACKENDS, f"backend={config.backend!r} is not one of {list(BACKENDS)}.")
    check(config.dtype in DTYPES, f"dtype={config.dtype!r} is not one of {list(DTYPES)}.")
    out = Path(config.output_dir) if config.output_dir else None
    check(out is None or not out.is_file(), f"output_dir={config.output_dir!r} is a file; pass a folder.")
    if config.compare is not None:
        load_summary(config.compare)
