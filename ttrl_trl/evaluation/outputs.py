"""Where a run writes, what settings it records, and the atomic writes of its final files."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ttrl_trl.data import LOCAL_FORMATS, system_prompt_text
from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.model_source import ModelSource


def default_output_dir(dataset: str) -> Path:
    """outputs/eval/<dataset>: the benchmark name, the file's stem, or the Hub id's name (as the Makefile)."""
    path = Path(dataset)
    return Path("outputs") / "eval" / (path.stem if path.suffix in LOCAL_FORMATS else path.name)


def run_settings(config: EvalConfig, source: ModelSource | None, backend: str) -> dict[str, Any]:
    """The settings stored next to the metrics, so a summary.json says how it was produced."""
    settings: dict[str, Any] = {"model": config.model_name_or_path}
    if source is not None and source.adapter is not None:
        settings["base_model"] = source.base
    return settings | {
        "dataset": config.dataset,
        "split": config.split,
        "max_problems": config.max_problems,
        "system_prompt": system_prompt_text(config.system_prompt),
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
