"""``curves.png`` for any TTRL run: ``python -m ttrl_trl.plot RUN_DIR`` (or ``make plot RUN=...``).

Reads the trainer's ``log_history`` (from the newest ``trainer_state.json`` of the run folder or
its checkpoints, or the demo's ``log_history.jsonl``) and draws one panel per metric family that
the log holds; a family the run did not log is left out rather than drawn empty:

* reward and majority ratio: agreement with the vote, and the winning answer's share of it;
* label accuracy: how often the pseudo-label is right (if it falls, the policy is locking in
  confident wrong answers);
* rollout accuracy: the training samples' accuracy against the hidden truth;
* ``benchmark/``: the evaluation during training (pass@1 as avg@k, maj@k, pass@k);
* ``trm/``: Trust Region Masking's masked fraction and log-ratio statistics;
* label stability: ``ttrl/label_flip_rate``, ``ttrl/answer_entropy`` and kin, when logged.

Dense per-step series are drawn faintly, with a moving average over them drawn boldly; sparse
series (the benchmark) are drawn as points. Each panel's y-axis fits its data, so a label
accuracy moving between 0.9 and 1.0 is not flattened against a 0-1 axis.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

History = list[dict[str, Any]]
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
STABILITY_WORDS = ("flip", "entropy", "stability", "label_change")
# Values that can never leave [0, 1]: their axis is clipped there (others, e.g. entropy, are not).
UNIT_PREFIXES = ("reward", "ttrl/majority_ratio", "ttrl/label_accuracy", "ttrl/rollout_accuracy", "benchmark/pass@",
                 "benchmark/maj@", "trm/masked_fraction", "ttrl/label_flip_rate")  # fmt: skip


@dataclass(frozen=True)
class Panel:
    """One metric family: a title and the log keys it draws, in legend order."""

    title: str
    keys: list[str]
    sparse: bool = False  # logged only now and then: points joined by lines, no moving average
    references: list[tuple[str, float, str, str]] = field(default_factory=list)  # (label, value, style, colour)


@dataclass(frozen=True)
class Curves:
    """What was drawn: the PNG, the panel titles (left to right, top to bottom), each one's legend, x label,
    y limits and x ticks (within the limits)."""

    path: Path
    panels: list[str]
    legends: dict[str, list[str]]
    xlabels: dict[str, str]
    ylims: dict[str, tuple[float, float]] = field(default_factory=dict)
    xticks: dict[str, list[float]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ loading
class RunLogError(ValueError):
    """A run folder without a readable training log; the message says what was looked for."""


def _state_candidates(run: Path) -> list[Path]:
    return [p for p in [run / "trainer_state.json", *run.glob("checkpoint-*/trainer_state.json")] if p.is_file()]


def find_log(run: str | Path) -> Path:
    """The most complete log of a run: the ``trainer_state.json`` with the highest global step (the
    output folder's, or its newest checkpoint's), else the demo's ``log_history.jsonl``."""
    run = Path(run)
    if run.is_file():
        return run
    if not run.is_dir():
        raise RunLogError(f"RUN={str(run)!r} does not exist; pass a training output_dir (or a trainer_state.json).")
    states = _state_candidates(run)
    if states:
        return max(states, key=lambda p: (json.loads(p.read_text()).get("global_step", 0), p == run / "trainer_state.json"))
    if (run / "log_history.jsonl").is_file():
        return run / "log_history.jsonl"
    raise RunLogError(
        f"RUN={str(run)!r} has no trainer_state.json (in it or in a checkpoint-*/ folder) and no log_history.jsonl; "
        f"pass the output_dir of a training run that saved at least one checkpoint."
    )


def load_history(run: str | Path) -> History:
    """The run's ``log_history``: one dict per logging step (and the final training summary)."""
    path = find_log(run)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return list(json.loads(text).get("log_history", []))


def load_references(run: str | Path) -> dict[str, dict[str, float]]:
    """The demo's evaluations before / after TTRL from ``summary.json``, when the run folder has them."""
    summary_path = Path(run) / "summary.json"
    if not summary_path.is_file():
        return {}
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return {phase: summary[phase] for phase in ("before", "after") if isinstance(summary.get(phase), dict)}


# ------------------------------------------------------------------------------------------ panels
def _logged_keys(history: History) -> list[str]:
    seen: dict[str, None] = {}
    for row in history:
        if "step" in row:
            for key, value in row.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    seen.setdefault(key, None)
    return list(seen)


def _eval_lines(evals: Mapping[str, Mapping[str, float]], kind: str) -> list[tuple[str, float, str, str]]:
    """Reference lines for the evaluation figures of one kind: ``pass@1``, ``maj@k`` or ``pass@k`` (k > 1)."""
    styles = {"before": "--", "after": ":"}
    colours = {"pass@1": "tab:green", "maj@k": "tab:red", "pass@k": "tab:purple"}

    def kind_of(name: str) -> str | None:
        if name == "pass@1":
            return "pass@1"
        if name.startswith("maj@"):
            return "maj@k"
        return "pass@k" if name.startswith("pass@") else None

    return [
        (f"evaluation {phase}: {name} {values[name]:.3f}", float(values[name]), styles[phase], colours[kind])
        for phase, values in evals.items()
        for name in values
        if kind_of(name) == kind and phase in styles
    ]


def plan_panels(history: History, evals: Mapping[str, Mapping[str, float]] | None = None) -> list[Panel]:
    """The panels a run's log calls for, in a fixed order; families the log lacks are left out."""
    keys, evals = _logged_keys(history), evals or {}

    def present(*names: str) -> list[str]:
        return [k for k in names if k in keys]

    def under(prefix: str, accept: Callable[[str], bool] = lambda k: True) -> list[str]:
        return [k for k in keys if k.startswith(prefix) and accept(k)]

    panels = [
        Panel("reward and majority ratio", present("reward", "ttrl/majority_ratio")),
        Panel("label accuracy (pseudo-label = truth)", present("ttrl/label_accuracy"), references=_eval_lines(evals, "maj@k")),
        Panel("rollout accuracy (vs hidden truth)", present("ttrl/rollout_accuracy"), references=[
            *_eval_lines(evals, "pass@1"), *_eval_lines({"before": evals.get("before", {})}, "maj@k"),
            *_eval_lines(evals, "pass@k")]),
        Panel("benchmark during training", sorted(under("benchmark/", lambda k: "@" in k), key=_benchmark_order), sparse=True),
        Panel("Trust Region Masking", under("trm/", lambda k: k in ("trm/masked_fraction", "trm/max_abs_log_ratio/mean"))),
        Panel("label stability", under("ttrl/", lambda k: any(word in k for word in STABILITY_WORDS))),
    ]  # fmt: skip
    return [p for p in panels if p.keys]


def _benchmark_order(key: str) -> tuple[int, int]:
    """pass@1, then maj@k, then pass@k (as ``ttrl_trl.evaluate`` reports them), smaller k first."""
    name, _, k = key.removeprefix("benchmark/").partition("@")
    rank = 0 if (name, k) == ("pass", "1") else {"maj": 1, "pass": 2}.get(name, 3)
    return rank, int(k) if k.isdigit() else 0


# ------------------------------------------------------------------------------------------ drawing
def series(history: History, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one key, in logging order."""
    rows = [row for row in history if key in row and "step" in row]
    return [int(row["step"]) for row in rows], [float(row[key]) for row in rows]


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def fit_limits(values: Sequence[float], unit: bool) -> tuple[float, float]:
    """Y limits around the data with a 10 % margin, at least 0.05 wide (a flat line gets a readable axis).

    The widened window never crosses a bound the data respects: rates stay in [0, 1] and non-negative
    values (entropy, |log rho|) above 0, so an all-zero panel reads 0 to 0.05, not -0.02 to 0.03.
    """
    data_lo, data_hi = min(values), max(values)
    lo, hi = data_lo, data_hi
    min_span = 0.05 if unit else max(abs(hi) * 0.1, 0.05)
    if hi - lo < min_span:
        centre = (lo + hi) / 2
        lo, hi = centre - min_span / 2, centre + min_span / 2
    floor = 0.0 if data_lo >= 0 else -math.inf
    ceiling = 1.0 if unit and data_hi <= 1 else math.inf
    if lo < floor:
        lo, hi = floor, floor + (hi - lo)
    elif hi > ceiling:
        lo, hi = ceiling - (hi - lo), ceiling
    pad = 0.1 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    return (max(lo, -0.02), min(hi, 1.02)) if unit else (lo, hi)


def _identical(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a, b))


LABELS = {"trm/masked_fraction": "masked fraction of sequences", "trm/max_abs_log_ratio/mean": "mean of max_t |log rho_t|"}


def _label(key: str) -> str:
    return LABELS.get(key) or key.removeprefix("ttrl/").removeprefix("benchmark/").replace("_", " ")


def _draw_panel(ax: Any, history: History, panel: Panel, window: int | None) -> tuple[list[str], str]:
    from matplotlib.ticker import MaxNLocator

    drawn: list[float] = []
    curves = [(key, *series(history, key)) for key in panel.keys]
    # reward == majority ratio whenever every voted completion is trained on: one line, said so.
    if len(curves) == 2 and curves[0][0] == "reward" and _identical(curves[0][2], curves[1][2]):
        curves = [("reward = majority ratio (the same number: every vote is trained)", *curves[0][1:])]
    xlabel = "training step"
    for i, (key, steps, values) in enumerate(curves):
        colour, label = COLOURS[i % len(COLOURS)], _label(key)
        drawn += values
        if panel.sparse or len(values) < 3:
            ax.plot(steps, values, color=colour, marker="o", markersize=4, linewidth=1.5, label=label)
            continue
        w = window or max(1, len(values) // 20)
        ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(steps, moving_average(values, w), color=colour, linewidth=2, label=label)
        if w > 1:
            xlabel = f"training step (bold: {w}-step moving average; faint: each step)"
    for label, value, style, colour in panel.references:
        ax.axhline(value, color=colour, linestyle=style, linewidth=1.2, label=label)
        drawn.append(value)
    unit = all(key.startswith(UNIT_PREFIXES) for key in panel.keys)
    ax.set_ylim(*fit_limits(drawn, unit))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers, even on a 4-step run
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.grid(alpha=0.3)
    return [text.get_text() for text in ax.legend(fontsize=7, loc="best").get_texts()], xlabel


def plot_curves(
    history: History,
    path: str | Path,
    evals: Mapping[str, Mapping[str, float]] | None = None,
    title: str | None = None,
    window: int | None = None,
) -> Curves:
    """Draw every present family of ``history`` into ``path`` (a PNG); ``evals`` adds the demo's
    before/after evaluations (``{"before": {"pass@1": .., "maj@16": ..}, "after": ...}``) as
    horizontal lines. ``window`` fixes the moving average (default: 1/20 of the steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = plan_panels(history, evals)
    if not panels:
        raise RunLogError("the log has no TTRL metric to plot (reward, ttrl/, benchmark/, trm/); was it a TTRL run?")
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), constrained_layout=True, squeeze=False)
    drawn = {panel.title: _draw_panel(ax, history, panel, window) for ax, panel in zip(axes.flat, panels)}
    fig.canvas.draw()  # settles the tick locations reported below
    shown = dict(zip(drawn, axes.flat))
    ylims = {title: tuple(float(v) for v in ax.get_ylim()) for title, ax in shown.items()}
    xticks = {
        title: [float(t) for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        for title, ax in shown.items()
    }
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Curves(
        path=path,
        panels=list(drawn),
        legends={title: legend for title, (legend, _) in drawn.items()},
        xlabels={title: xlabel for title, (_, xlabel) in drawn.items()},
        ylims=ylims,
        xticks=xticks,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttrl_trl.plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a training output_dir (or its trainer_state.json / log_history.jsonl)")
    parser.add_argument("--output", help="where to write the PNG (default: RUN/curves.png)")
    parser.add_argument("--title", help="figure title (default: the run folder's name)")
    parser.add_argument("--window", type=int, help="moving-average window in steps (default: 1/20 of the steps)")
    args = parser.parse_args(argv)
    run = Path(args.run)
    folder = run if run.is_dir() else run.parent
    try:
        history = load_history(run)
        curves = plot_curves(
            history, args.output or folder / "curves.png", evals=load_references(folder), title=args.title or folder.name,
            window=args.window,
        )  # fmt: skip
    except RunLogError as err:
        print(f"ttrl-plot: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {curves.path} ({', '.join(curves.panels)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
