"""evaluate(): validate, load the problems and the model, generate and grade, write the files, print the tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ttrl_trl.data import load_problems
from ttrl_trl.evaluation.compare import format_compare_table, format_summary_table, load_summary, setting_mismatches
from ttrl_trl.evaluation.config import EvalConfig, validate_config
from ttrl_trl.evaluation.generation import GenerateFn, load_tokenizer
from ttrl_trl.evaluation.metrics import summarize
from ttrl_trl.evaluation.model_source import ModelSource, resolve_backend, resolve_model
from ttrl_trl.evaluation.outputs import default_output_dir, run_settings, write_outputs
from ttrl_trl.evaluation.resume import PARTIAL_FILE, chunk_size, generate_and_score
from ttrl_trl.evaluation.transformers_backend import load_transformers_model, transformers_generate_fn
from ttrl_trl.evaluation.vllm_backend import vllm_generate_fn


def build_generate_fn(config: EvalConfig, source: ModelSource, backend: str) -> GenerateFn:
    """Load the model for the chosen backend (tokenizer first: it fails fast and cheaply)."""
    tokenizer = load_tokenizer(source)
    if backend == "vllm":
        return vllm_generate_fn(source, tokenizer, config)
    return transformers_generate_fn(load_transformers_model(source, config.dtype), tokenizer, config)


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
    records = generate_and_score(rows, generate_fn, config, settings, output_dir, chunk=chunk_size(config, backend))
    summary = summarize(records, config.num_samples, config.pass_at) | settings
    write_outputs(output_dir, records, summary)
    (output_dir / PARTIAL_FILE).unlink(missing_ok=True)
    print(format_summary_table(summary))
    if config.compare is not None:
        other = load_summary(config.compare)
        mismatches = setting_mismatches(other, summary)
        if mismatches:
            print(
                f"ttrl-eval: warning: --compare: the runs differ in {'; '.join(mismatches)}; "
                f"the deltas measure these settings as well as the models.",
                file=sys.stderr,
            )
        print(format_compare_table(other, summary))
    print(f"results: {output_dir / 'summary.json'} and {output_dir / 'generations.jsonl'}")
    return summary
