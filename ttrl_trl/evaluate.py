"""Evaluate a model (or a LoRA adapter) on a math benchmark: pass@1 (avg@k), maj@k, pass@k.

The paper reports pass@1 as avg@16 at temperature 0.6, top-p 0.95 and 3072 new tokens; those
are the defaults here. Prompts come from :mod:`ttrl_trl.data` and answers are extracted, voted
and graded by :mod:`ttrl_trl.vote.voting`, so an evaluation sees exactly what TTRL training sees.

Command line (``ttrl-eval`` or ``python -m ttrl_trl.evaluate``)::

    python -m ttrl_trl.evaluate --model_name_or_path Qwen/Qwen2.5-Math-1.5B --dataset aime24 \\
        --num_samples 16 --output_dir outputs/eval/aime24

Programmatic use: ``evaluate(EvalConfig(...))`` returns the summary dictionary; pass
``generate_fn`` to evaluate an in-memory model (see :func:`transformers_generate_fn`).
Files are written only once everything succeeded, each atomically (``tmp`` + rename).

The code lives in :mod:`ttrl_trl.evaluation`, one module per job; this module keeps the public
names (and ``python -m ttrl_trl.evaluate``) where users and the demo import them from.
"""

from __future__ import annotations

import sys

from ttrl_trl.evaluation.cli import main, parse_args
from ttrl_trl.evaluation.compare import format_compare_table, format_summary_table, load_summary
from ttrl_trl.evaluation.config import BACKENDS, DTYPES, EvalConfig, validate_config
from ttrl_trl.evaluation.errors import EvalConfigError
from ttrl_trl.evaluation.generation import GenerateFn, Prompt, chat_texts, load_tokenizer
from ttrl_trl.evaluation.model_source import ModelSource, resolve_backend, resolve_model
from ttrl_trl.evaluation.outputs import default_output_dir, run_settings, write_outputs
from ttrl_trl.evaluation.resume import PARTIAL_FILE, generate_and_score
from ttrl_trl.evaluation.run import build_generate_fn, evaluate
from ttrl_trl.evaluation.scoring import score_problem
from ttrl_trl.evaluation.transformers_backend import load_transformers_model, sampling_kwargs, transformers_generate_fn
from ttrl_trl.evaluation.vllm_backend import VLLM_LORA_RANKS, vllm_generate_fn

__all__ = [
    "BACKENDS",
    "DTYPES",
    "PARTIAL_FILE",
    "VLLM_LORA_RANKS",
    "EvalConfig",
    "EvalConfigError",
    "GenerateFn",
    "ModelSource",
    "Prompt",
    "build_generate_fn",
    "chat_texts",
    "default_output_dir",
    "evaluate",
    "format_compare_table",
    "format_summary_table",
    "generate_and_score",
    "load_summary",
    "load_tokenizer",
    "load_transformers_model",
    "main",
    "parse_args",
    "resolve_backend",
    "resolve_model",
    "run_settings",
    "sampling_kwargs",
    "score_problem",
    "transformers_generate_fn",
    "validate_config",
    "vllm_generate_fn",
    "write_outputs",
]

if __name__ == "__main__":
    sys.exit(main())
