"""Evaluate a model (or a LoRA adapter) on a math benchmark: pass@1 (avg@k), maj@k, pass@k.

The paper reports pass@1 as avg@16 at temperature 0.6, top-p 0.95 and 3072 new tokens; those
are the defaults here. Prompts come from :mod:`ttrl_trl.data` and answers are extracted, voted
and graded by :mod:`ttrl_trl.voting`, so an evaluation sees exactly what TTRL training sees.

Command line (``ttrl-eval`` or ``python -m ttrl_trl.evaluate``)::

    python -m ttrl_trl.evaluate --model_name_or_path Qwen/Qwen2.5-Math-1.5B --dataset aime24 \\
        --data_dir ../shared/data --num_samples 16 --output_dir outputs/eval/aime24

Programmatic use: ``evaluate(EvalConfig(...))`` returns the summary dictionary; pass
``generate_fn`` to evaluate an in-memory model (see :func:`transformers_generate_fn`).
Files are written only once everything succeeded, each atomically (``tmp`` + rename).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttrl_trl.data import BENCHMARKS, DEFAULT_SYSTEM_PROMPT, LOCAL_FORMATS, DatasetError, load_problems
from ttrl_trl.metrics import majority_outcome, problem_metrics, summarize
from ttrl_trl.voting import extract_answer, is_correct

Prompt = list[dict[str, str]]
# Takes every problem's conversational prompt, returns the k completion texts of each, in order.
GenerateFn = Callable[[list[Prompt]], list[list[str]]]

BACKENDS = ("auto", "vllm", "transformers")
DTYPES = ("auto", "float32", "float16", "bfloat16")
# vLLM only accepts these LoRA ranks as `max_lora_rank`.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


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
        default=None, metadata={"help": "Folder with the TTRL <name>.json files (e.g. ../shared/data)."}
    )
    split: str | None = field(default=None, metadata={"help": "Dataset split (Hub datasets only)."})
    problem_column: str | None = field(default=None, metadata={"help": "Column holding the problem text."})
    answer_column: str | None = field(default=None, metadata={"help": "Column holding the gold answer."})
    system_prompt: str | None = field(
        default=DEFAULT_SYSTEM_PROMPT,
        metadata={"help": 'System message; "" sends the problem alone. Must match the training prompt.'},
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


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: a base model, plus a LoRA adapter folder when there is one."""

    base: str
    adapter: str | None = None
    lora_rank: int | None = None

    @property
    def tokenizer(self) -> str:
        """The adapter folder's tokenizer if it saved one (it may have added tokens), else the base's."""
        if self.adapter and (Path(self.adapter) / "tokenizer_config.json").is_file():
            return self.adapter
        return self.base


# ---------------------------------------------------------------------------------------------
# Validation: everything that can be checked before the (slow) model load.
# ---------------------------------------------------------------------------------------------


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise EvalConfigError(message)


def validate_config(config: EvalConfig) -> None:
    """Reject impossible settings up front, one clear message each, before any heavy work."""
    k = config.num_samples
    _check(k >= 1, f"num_samples={k}: at least one sample per problem is needed; pass `--num_samples 16` (the paper).")
    bad = sorted(j for j in config.pass_at if not 1 <= j <= k)
    _check(
        not bad,
        f"pass_at={config.pass_at}: {bad} not in 1..num_samples={k}; pass@k' needs k' <= k samples. "
        f"Raise `--num_samples` or drop those values.",
    )
    _check(config.temperature >= 0, f"temperature={config.temperature} is negative; use 0 (greedy) or e.g. 0.6.")
    _check(
        config.temperature > 0 or k == 1,
        f"temperature=0 is greedy decoding, so all num_samples={k} samples would be identical; "
        f"pass `--num_samples 1` for greedy, or a temperature > 0 to sample.",
    )
    _check(0 < config.top_p <= 1, f"top_p={config.top_p} must be in (0, 1]; the paper uses 0.95.")
    _check(config.max_new_tokens >= 1, f"max_new_tokens={config.max_new_tokens} must be >= 1 (the paper: 3072).")
    _check(config.batch_size >= 1, f"batch_size={config.batch_size} must be >= 1.")
    _check(
        config.max_problems is None or config.max_problems >= 1,
        f"max_problems={config.max_problems} must be >= 1, or left unset to evaluate every problem.",
    )
    _check(config.backend in BACKENDS, f"backend={config.backend!r} is not one of {list(BACKENDS)}.")
    _check(config.dtype in DTYPES, f"dtype={config.dtype!r} is not one of {list(DTYPES)}.")
    out = Path(config.output_dir) if config.output_dir else None
    _check(out is None or not out.is_file(), f"output_dir={config.output_dir!r} is a file; pass a folder.")
    if config.compare is not None:
        load_summary(config.compare)


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read another run's summary.json for `--compare`, with a clear error if it is not one."""
    path = Path(path)
    _check(path.is_file(), f"compare={str(path)!r} does not exist; pass the summary.json of an earlier run.")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvalConfigError(
            f"compare={str(path)!r} is not valid JSON ({err}); pass an earlier summary.json."
        ) from err
    _check(
        isinstance(summary, dict) and "pass@1" in summary,
        f"compare={str(path)!r} has no 'pass@1' key; pass the summary.json that ttrl-eval wrote.",
    )
    return summary


def resolve_model(model_name_or_path: str) -> ModelSource:
    """A local folder with adapter_config.json is a LoRA adapter on top of its recorded base model."""
    path = Path(model_name_or_path).expanduser()
    looks_local = model_name_or_path.startswith((".", "/", "~")) or path.exists()
    _check(
        not looks_local or path.is_dir(),
        f"model_name_or_path={model_name_or_path!r} is not a folder; pass a saved model/adapter folder or a Hub id.",
    )
    adapter_config = path / "adapter_config.json"
    if not adapter_config.is_file():
        return ModelSource(base=str(path) if looks_local else model_name_or_path)
    settings = json.loads(adapter_config.read_text(encoding="utf-8"))
    base = settings.get("base_model_name_or_path")
    _check(
        bool(base),
        f"{adapter_config} has no base_model_name_or_path; set it to the base model's Hub id or folder.",
    )
    return ModelSource(base=base, adapter=str(path), lora_rank=settings.get("r"))


def resolve_backend(requested: str) -> str:
    """auto: vLLM when it is installed and a GPU is there, else batched transformers generation."""
    has_vllm = importlib.util.find_spec("vllm") is not None
    if requested == "transformers":
        return requested
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "vllm":
        _check(
            has_vllm,
            "backend='vllm' but vLLM is not installed; `pip install -e .[vllm]` or pass `--backend transformers`.",
        )
        _check(has_cuda, "backend='vllm' needs a CUDA GPU; pass `--backend transformers` to run on CPU.")
        return requested
    return "vllm" if has_vllm and has_cuda else "transformers"


def default_output_dir(dataset: str) -> Path:
    """outputs/eval/<dataset>: the benchmark name, the file's stem, or the Hub id's name (as the Makefile)."""
    path = Path(dataset)
    return Path("outputs") / "eval" / (path.stem if path.suffix in LOCAL_FORMATS else path.name)


# ---------------------------------------------------------------------------------------------
# Generation backends.
# ---------------------------------------------------------------------------------------------


def load_tokenizer(source: ModelSource) -> Any:
    """Load the tokenizer (left padding, a pad token) and insist on a chat template, as training uses one."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.tokenizer)
    except OSError as err:
        raise EvalConfigError(
            f"model_name_or_path: cannot load a tokenizer from {source.tokenizer!r} ({err}). "
            f"Pass a local model folder, or a Hub id while online."
        ) from err
    _check(
        tokenizer.chat_template is not None,
        f"The tokenizer of {source.tokenizer!r} has no chat template; prompts are chat messages. "
        f"Use an instruct/chat checkpoint, or save a tokenizer with a chat_template next to the model.",
    )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_transformers_model(source: ModelSource, dtype: str) -> Any:
    """Load the base model, merge the LoRA adapter into it if any, and put it on the GPU if there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(source.base, dtype=torch_dtype)
    if source.adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, source.adapter).merge_and_unload()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval()


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a response: the generation config's (often several) and the tokenizer's."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def sampling_kwargs(config: EvalConfig) -> dict[str, Any]:
    """generate() settings that match vLLM's: no top-k, no repetition penalty; temperature 0 is greedy."""
    if config.temperature == 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p, "top_k": 0}


def _decode_response(tokenizer: Any, token_ids: Sequence[int], eos_ids: Sequence[int]) -> str:
    """Cut at the first end-of-sequence token (what follows is padding), then decode."""
    ids = list(token_ids)
    end = next((i for i, t in enumerate(ids) if t in eos_ids), len(ids))
    return tokenizer.decode(ids[:end], skip_special_tokens=True)


def chat_texts(tokenizer: Any, prompts: Sequence[Prompt]) -> list[str]:
    """The prompts rendered through the chat template, ending with the assistant turn's opening."""
    return [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]


def transformers_generate_fn(model: Any, tokenizer: Any, config: EvalConfig) -> GenerateFn:
    """Batched, left-padded sampling of k completions per prompt with ``model.generate`` (seeded by the caller).

    Also the way to evaluate a model that lives in memory (e.g. right after training): pass the
    result as ``evaluate(config, generate_fn=...)``.
    """
    import torch

    def generate(prompts: list[Prompt]) -> list[list[str]]:
        k, eos_ids = config.num_samples, _eos_ids(model, tokenizer)
        texts = chat_texts(tokenizer, prompts)
        kwargs = sampling_kwargs(config) | {
            "max_new_tokens": config.max_new_tokens,
            "num_return_sequences": k,
            "repetition_penalty": 1.0,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": eos_ids,
        }
        results: list[list[str]] = []
        for start in range(0, len(texts), config.batch_size):
            batch = texts[start : start + config.batch_size]
            enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                out = model.generate(**enc, **kwargs)
            responses = out[:, enc["input_ids"].shape[1] :].tolist()
            decoded = [_decode_response(tokenizer, r, eos_ids) for r in responses]
            results += [decoded[i * k : (i + 1) * k] for i in range(len(batch))]
        return results

    return generate


def vllm_generate_fn(source: ModelSource, tokenizer: Any, config: EvalConfig) -> GenerateFn:
    """vLLM with SamplingParams(n=k); LoRA adapters go through a LoRARequest. Needs a GPU."""
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    lora_kwargs: dict[str, Any] = {}
    if source.adapter is not None:
        rank = next((r for r in VLLM_LORA_RANKS if r >= (source.lora_rank or 8)), VLLM_LORA_RANKS[-1])
        lora_kwargs = {"enable_lora": True, "max_lora_rank": rank}
    llm = LLM(model=source.base, tokenizer=source.tokenizer, dtype=config.dtype, seed=config.seed, **lora_kwargs)
    params = SamplingParams(
        n=config.num_samples,
        temperature=config.temperature,
        top_p=config.top_p if config.temperature > 0 else 1.0,
        max_tokens=config.max_new_tokens,
    )
    lora = LoRARequest("adapter", 1, source.adapter) if source.adapter else None

    def generate(prompts: list[Prompt]) -> list[list[str]]:
        # Token ids, not text: the template already holds BOS, and tokenising text would add another.
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in chat_texts(tokenizer, prompts)]
        outputs = llm.generate([{"prompt_token_ids": i} for i in ids], params, lora_request=lora, use_tqdm=True)
        return [[c.text for c in out.outputs] for out in outputs]

    return generate


def build_generate_fn(config: EvalConfig, source: ModelSource, backend: str) -> GenerateFn:
    """Load the model for the chosen backend (tokenizer first: it fails fast and cheaply)."""
    tokenizer = load_tokenizer(source)
    if backend == "vllm":
        return vllm_generate_fn(source, tokenizer, config)
    return transformers_generate_fn(load_transformers_model(source, config.dtype), tokenizer, config)


# ---------------------------------------------------------------------------------------------
# Scoring, files, tables.
# ---------------------------------------------------------------------------------------------


def score_problem(row: Mapping[str, Any], texts: Sequence[str], config: EvalConfig) -> dict[str, Any]:
    """One generations.jsonl line: the problem, its samples graded one by one, the vote and its metrics."""
    gold = row.get("answer")
    answers = [extract_answer(t) for t in texts]
    samples = [{"text": t, "answer": a, "correct": bool(is_correct(a, gold))} for t, a in zip(texts, answers)]
    vote = majority_outcome(answers, gold)
    record: dict[str, Any] = {"id": row["id"]} if row.get("id") is not None else {}
    record |= {
        "problem": row["problem"],
        "prompt": row["prompt"],
        "gold": gold,
        "samples": samples,
        "label": vote.label,
        "majority_ratio": vote.ratio,
        "maj_correct": vote.correct,
    }
    record["metrics"] = problem_metrics(record, config.num_samples, config.pass_at)
    return record


def run_settings(config: EvalConfig, source: ModelSource | None, backend: str) -> dict[str, Any]:
    """The settings stored next to the metrics, so a summary.json says how it was produced."""
    settings: dict[str, Any] = {"model": config.model_name_or_path}
    if source is not None and source.adapter is not None:
        settings["base_model"] = source.base
    return settings | {
        "dataset": config.dataset,
        "split": config.split,
        "max_problems": config.max_problems,
        "system_prompt": config.system_prompt,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_new_tokens": config.max_new_tokens,
        "seed": config.seed,
        "backend": backend,
        "dtype": config.dtype,
    }


def _atomic_write(path: Path, text: str) -> None:
    """Write to a temporary file and rename it, so a crash never leaves half a file behind."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_outputs(output_dir: Path, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> None:
    """generations.jsonl (one line per problem) and summary.json; summary last, as the 'done' marker."""
    output_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(output_dir / "generations.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    _atomic_write(output_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def _metric_keys(summary: Mapping[str, Any]) -> list[str]:
    return [key for key in summary if key.startswith(("pass@", "maj@")) or key == "no_answer_rate"]


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def format_summary_table(summary: Mapping[str, Any]) -> str:
    """One small table: the run's identity on top, then one metric per row."""
    head = (
        f"{summary.get('model')} on {summary.get('dataset')}: {summary.get('num_problems')} problems, "
        f"k={summary.get('num_samples')}, temperature={summary.get('temperature')}, top_p={summary.get('top_p')}"
    )
    rows = [f"{'metric':<16}{'value':>10}"] + [f"{key:<16}{_fmt(summary[key]):>10}" for key in _metric_keys(summary)]
    return "\n".join([head, *rows])


def format_compare_table(other: Mapping[str, Any], this: Mapping[str, Any]) -> str:
    """Before/after: metric, the other run, this run, and this minus other."""
    keys = _metric_keys(this) + [key for key in _metric_keys(other) if key not in this]
    lines = [
        f"other: {other.get('model')} on {other.get('dataset')}",
        f"this:  {this.get('model')} on {this.get('dataset')}",
        f"{'metric':<16}{'other':>10}{'this':>10}{'delta':>10}",
    ]
    for key in keys:
        a, b = other.get(key), this.get(key)
        delta = f"{b - a:+.4f}" if isinstance(a, int | float) and isinstance(b, int | float) else "-"
        lines.append(f"{key:<16}{_fmt(a):>10}{_fmt(b):>10}{delta:>10}")
    return "\n".join(lines)


def _check_shape(completions: Sequence[Sequence[str]], n_problems: int, k: int) -> None:
    """A backend that returns the wrong number of completions would silently skew every metric."""
    shapes = {len(c) for c in completions}
    if len(completions) != n_problems or shapes != {k}:
        raise RuntimeError(
            f"generation returned {len(completions)} problems x {sorted(shapes)} samples, expected {n_problems} x {k}"
        )


PARTIAL_FILE = "generations.partial.jsonl"
"""Problems scored so far, appended chunk by chunk; a rerun with the same settings resumes from it."""


def _chunk_size(config: EvalConfig, backend: str) -> int:
    """Problems per generation call: each chunk is saved before the next starts. vLLM batches
    best over many prompts at once, so it gets larger chunks."""
    return max(config.batch_size, 64) if backend == "vllm" else config.batch_size


def _load_partial(path: Path, header: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Records of an interrupted run with exactly this header (same settings), else none."""
    if not path.is_file():
        return []
    parsed = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by the interruption
            break
    if not parsed or parsed[0] != json.loads(json.dumps(header)):
        return []
    return parsed[1:]


def generate_and_score(
    rows: Sequence[Mapping[str, Any]],
    generate_fn: GenerateFn,
    config: EvalConfig,
    settings: Mapping[str, Any],
    output_dir: Path,
    chunk: int,
) -> list[dict[str, Any]]:
    """Generate and grade chunk by chunk, appending each chunk to ``generations.partial.jsonl``.

    An interrupted evaluation loses at most one chunk: rerunning the same command resumes after
    the last saved problem. Each chunk is seeded with ``seed + index of its first problem``, so a
    resumed transformers run gives the same samples as an uninterrupted one.
    """
    from tqdm.auto import tqdm
    from transformers import set_seed

    partial = output_dir / PARTIAL_FILE
    header = {"settings": dict(settings) | {"num_samples": config.num_samples}}
    records = _load_partial(partial, header)
    if records:
        print(f"resuming: {len(records)} of {len(rows)} problems already in {partial}")
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(header, ensure_ascii=False) + "\n", encoding="utf-8")
    with tqdm(total=len(rows), initial=len(records), desc="evaluating", unit="problem") as bar:
        for start in range(len(records), len(rows), chunk):
            batch = rows[start : start + chunk]
            set_seed(config.seed + start)
            completions = generate_fn([row["prompt"] for row in batch])
            _check_shape(completions, len(batch), config.num_samples)
            scored = [score_problem(row, texts, config) for row, texts in zip(batch, completions)]
            with partial.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in scored)
            records += scored
            bar.update(len(batch))
    return records


def evaluate(config: EvalConfig, generate_fn: GenerateFn | None = None) -> dict[str, Any]:
    """Run one evaluation and return its summary (metrics + settings); also writes the output files.

    ``generate_fn`` replaces the model backend (an in-memory model, or a fake in tests); without it
    the model of ``config.model_name_or_path`` is loaded with ``config.backend``.
    """
    validate_config(config)
    source = None if generate_fn else resolve_model(config.model_name_or_path)
    backend = "custom" if generate_fn else resolve_backend(config.backend)
    problems = load_problems(
        config.dataset,
        split=config.split,
        problem_column=config.problem_column,
        answer_column=config.answer_column,
        system_prompt=config.system_prompt,
        require_answer=True,
        data_dir=config.data_dir,
        max_problems=config.max_problems,
    )
    rows = problems.to_list()
    if generate_fn is None:
        generate_fn = build_generate_fn(config, source, backend)
    output_dir = Path(config.output_dir) if config.output_dir else default_output_dir(config.dataset)
    settings = run_settings(config, source, backend)
    records = generate_and_score(rows, generate_fn, config, settings, output_dir, chunk=_chunk_size(config, backend))
    summary = summarize(records, config.num_samples, config.pass_at) | settings
    write_outputs(output_dir, records, summary)
    (output_dir / PARTIAL_FILE).unlink(missing_ok=True)
    print(format_summary_table(summary))
    if config.compare is not None:
        print(format_compare_table(load_summary(config.compare), summary))
    return summary


def parse_args(argv: Sequence[str] | None = None) -> EvalConfig:
    """The command line, generated from EvalConfig's fields and help texts."""
    from transformers import HfArgumentParser

    (config,) = HfArgumentParser(EvalConfig).parse_args_into_dataclasses(args=argv)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: exit 0 on success, 2 with one clear message on a bad setting or dataset."""
    config = parse_args(argv)
    try:
        evaluate(config)
    except (EvalConfigError, DatasetError) as err:
        print(f"ttrl-eval: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
