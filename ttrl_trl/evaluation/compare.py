"""The printed tables: one run's metrics, and `--compare`'s side-by-side with an earlier summary.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ttrl_trl.data import system_prompt_text
from ttrl_trl.evaluation.errors import EvalConfigError, check


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read another run's summary.json for `--compare`, with a clear error if it is not one."""
    path = Path(path)
    if path.is_dir() and (path / "summary.json").is_file():  # the earlier run's output folder
        path = path / "summary.json"
    check(path.is_file(), f"compare={str(path)!r} does not exist; pass the summary.json of an earlier run.")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvalConfigError(
            f"compare={str(path)!r} is not valid JSON ({err}); pass an earlier summary.json."
        ) from err
    check(
        isinstance(summary, dict) and "pass@1" in summary,
        f"compare={str(path)!r} has no 'pass@1' key; pass the summary.json that ttrl-eval wrote.",
    )
    return summary


COMPARED_SETTINGS = (
    "dataset",
    "num_problems",
    "num_samples",
    "temperature",
    "top_p",
    "system_prompt",
    "max_new_tokens",
)
"""Settings that change the metrics by themselves: two runs that differ in one compare more than models."""


def setting_mismatches(other: Mapping[str, Any], this: Mapping[str, Any]) -> list[str]:
    """``name: other -> this`` for each compared setting that differs (system prompts as the prompt sends them)."""

    def value(summary: Mapping[str, Any], key: str) -> Any:
        return system_prompt_text(summary.get(key)) if key == "system_prompt" else summary.get(key)

    return [
        f"{key} {value(other, key)!r} -> {value(this, key)!r}"
        for key in COMPARED_SETTINGS
        if value(other, key) != value(this, key)
    ]


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
