"""The printed tables: one run's metrics, and `--compare`'s side-by-side with an earlier summary.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ttrl_trl.evaluation.config import EvalConfigError, check


def load_summary(path: str | Path) -> dict[str, Any]:
    """Read another run's summary.json for `--compare`, with a clear error if it is not one."""
    path = Path(path)
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
