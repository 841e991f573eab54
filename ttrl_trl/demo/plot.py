"""``curves.png``: what TTRL did, step by step, in three panels that read at a glance.

* reward and majority ratio: the share of trained completions that agree with their majority
  answer, and the winning answer's share of the vote (the same number when every voted
  completion is trained on);
* label accuracy: how often the majority answer (the pseudo-label) is actually right -- if this
  falls, the policy is collapsing onto confident wrong answers;
* pass@1 of the rollouts: their accuracy against the hidden truth, with the evaluation's pass@1
  and pass@k before (dashed) and after (dotted), and the maj@k before: the bar to clear.

Raw per-step values are drawn faintly, a moving average boldly.
"""

from __future__ import annotations

from pathlib import Path

PANELS = [
    # (title, [(log key, label, colour, line style)], evaluation lines: [(phase, metric, colour)])
    (
        "reward and majority ratio",
        [("reward", "reward", "tab:blue", "-"), ("ttrl/majority_ratio", "majority ratio", "tab:orange", "--")],
        [],
    ),
    (
        "label accuracy (pseudo-label = truth)",
        [("ttrl/label_accuracy", "label accuracy", "tab:red", "-")],
        [("before", "maj", "tab:red"), ("after", "maj", "tab:red")],
    ),
    (
        "pass@1 of the rollouts (vs hidden truth)",
        [("ttrl/rollout_accuracy", "rollout pass@1", "tab:green", "-")],
        [
            ("before", "pass@1", "tab:green"),
            ("after", "pass@1", "tab:green"),
            ("before", "maj", "tab:red"),
            ("before", "pass@k", "tab:purple"),
            ("after", "pass@k", "tab:purple"),
        ],
    ),
]


def _series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    rows = [row for row in history if key in row and "step" in row]
    return [row["step"] for row in rows], [float(row[key]) for row in rows]


def _smooth(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_curves(
    history: list[dict], path: str | Path, before: dict | None = None, after: dict | None = None, k: int = 16
) -> Path:
    """Draw the three panels from a trainer's ``log_history`` and save them to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evals = {"before": before, "after": after}
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4), constrained_layout=True)
    for ax, (title, curves, lines) in zip(axes, PANELS):
        for key, label, colour, style in curves:
            steps, values = _series(history, key)
            if values:
                window = max(1, len(values) // 20)
                ax.plot(steps, values, color=colour, alpha=0.2, linewidth=0.8)
                ax.plot(
                    steps,
                    _smooth(values, window),
                    color=colour,
                    linestyle=style,
                    linewidth=2,
                    label=f"{label} (mean of {window})",
                )
        for phase, metric, colour in lines:
            name = {"maj": f"maj@{k}", "pass@k": f"pass@{k}"}.get(metric, metric)
            if evals[phase] and name in evals[phase]:
                value = evals[phase][name]
                style = "--" if phase == "before" else ":"
                ax.axhline(value, color=colour, linestyle=style, label=f"eval {name} {phase}: {value:.2f}")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("TTRL step")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("TTRL on unlabelled held-out problems: the reward is agreement with the model's own majority vote")
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
