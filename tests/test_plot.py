"""``curves.png``: one panel per metric family a run logged, found from its output folder."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ttrl_trl.plot import RunLogError, find_log, fit_limits, load_history, main, plan_panels, plot_curves

REPO = Path(__file__).resolve().parents[1]


def _history(steps: int = 40, benchmark_every: int = 2, trm: bool = True, seed: int = 0) -> list[dict]:
    """A log shaped like TTRLTrainer's: per-step ttrl/ metrics, benchmark/ every few steps."""
    rng, rows = random.Random(seed), []
    for step in range(1, steps + 1):
        ratio = min(1.0, 0.5 + step / (2 * steps) + rng.uniform(-0.05, 0.05))
        row = {"step": step, "reward": ratio, "ttrl/majority_ratio": ratio, "loss": rng.random()}
        row["ttrl/label_accuracy"] = min(1.0, 0.9 + rng.uniform(0, 0.1))
        row["ttrl/rollout_accuracy"] = 0.4 + step / (4 * steps)
        if trm:
            row["trm/masked_fraction"] = rng.uniform(0, 0.2)
        rows.append(row)
        if step % benchmark_every == 0:
            rows.append({"step": step, "benchmark/pass@1": 0.3 + step / 200, "benchmark/maj@16": 0.5, "benchmark/pass@16": 0.7})
    rows.append({"step": steps, "train_runtime": 12.0, "train_loss": 0.1})
    return rows


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_every_logged_family_gets_a_panel(tmp_path):
    curves = plot_curves(_history(), tmp_path / "curves.png", window=7)
    assert curves.panels == [
        "reward and majority ratio",
        "label accuracy (pseudo-label = truth)",
        "rollout accuracy (vs hidden truth)",
        "benchmark during training",
        "Trust Region Masking",
    ]
    width, height = _png_size(curves.path)
    assert (width, height) == (3 * 5 * 110, 2 * 38 * 11)  # 3 columns x 2 rows at dpi 110
    # reward == majority ratio on every step: one line, and the legend says why.
    assert curves.legends["reward and majority ratio"] == ["reward = majority ratio (the same number: every vote is trained)"]
    assert curves.xlabels["reward and majority ratio"] == "training step (bold: 7-step moving average; faint: each step)"
    assert curves.legends["benchmark during training"] == ["pass@1", "maj@16", "pass@16"]


def test_missing_families_are_left_out(tmp_path):
    rows = [{"step": s, "reward": 0.5, "ttrl/majority_ratio": 0.6 + s / 100} for s in range(1, 6)]
    rows += [{"step": 5, "ttrl/label_flip_rate": 0.1, "ttrl/answer_entropy": 1.3}]
    curves = plot_curves(rows, tmp_path / "c.png")
    assert curves.panels == ["reward and majority ratio", "label stability"]
    assert curves.legends["reward and majority ratio"] == ["reward", "majority ratio"]  # different: two lines
    assert _png_size(curves.path) == (2 * 5 * 110, 38 * 11)
    assert [p.title for p in plan_panels(_history(trm=False))][-1] == "benchmark during training"
    with pytest.raises(RunLogError, match="no TTRL metric"):
        plot_curves([{"step": 1, "loss": 0.3}], tmp_path / "none.png")


def test_axis_follows_the_data_so_small_movements_show():
    lo, hi = fit_limits([0.9, 0.95, 1.0], unit=True)
    assert 0.85 < lo < 0.9 and 1.0 < hi <= 1.02
    lo, hi = fit_limits([0.5, 0.5], unit=True)  # a flat line still gets a readable 0.05-wide axis
    assert hi - lo == pytest.approx(0.06) and lo < 0.5 < hi
    assert fit_limits([2.0, 3.0], unit=False) == pytest.approx((1.9, 3.1))


def _write_state(folder: Path, history: list[dict]) -> None:
    folder.mkdir(parents=True)
    step = max(row["step"] for row in history)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": history}))


def test_run_folder_reads_the_newest_checkpoint_and_the_cli_writes_the_png(tmp_path, capsys):
    history = _history(steps=6)
    _write_state(tmp_path / "checkpoint-2", [r for r in history if r["step"] <= 2])
    _write_state(tmp_path / "checkpoint-6", history)
    _write_state(tmp_path / "checkpoint-4", [r for r in history if r["step"] <= 4])
    assert find_log(tmp_path) == tmp_path / "checkpoint-6" / "trainer_state.json"
    assert load_history(tmp_path) == history
    assert main([str(tmp_path)]) == 0
    assert _png_size(tmp_path / "curves.png")[0] > 0 and "benchmark during training" in capsys.readouterr().out
    # The demo's layout: log_history.jsonl and summary.json (evaluations drawn as reference lines).
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "log_history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    (demo / "summary.json").write_text(json.dumps({"before": {"pass@1": 0.4, "maj@16": 0.8}, "after": {"pass@1": 0.6, "maj@16": 0.9}}))
    assert main([str(demo), "--output", str(demo / "x.png")]) == 0 and (demo / "x.png").is_file()
    assert main([str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_make_plot_needs_a_run():
    """`make plot RUN=...` writing the PNG is tested on a real run in test_benchmark_eval.py."""
    # `-o install`: use the interpreter running the tests, never (re)build a virtual environment.
    proc = subprocess.run(["make", "-o", "install", "plot", f"PY={sys.executable}"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0 and "RUN is required" in proc.stdout


def test_short_run_has_whole_step_ticks_and_flat_panels_a_sensible_axis(tmp_path):
    """The tiny recipe's 4 steps: every accuracy 0 and entropy constant; evaluations given to 3 decimals."""
    rows = [{"step": s, "reward": 0.125 * (s % 2), "ttrl/majority_ratio": 0.125, "ttrl/label_accuracy": 0.0,
             "ttrl/rollout_accuracy": 0.0, "ttrl/answer_entropy": 0.0} for s in range(1, 5)]  # fmt: skip
    curves = plot_curves(rows, tmp_path / "c.png", evals={"before": {"pass@1": 0.945, "maj@16": 0.9}})
    for title in curves.panels:
        ticks = curves.xticks[title]
        assert ticks and all(t == int(t) for t in ticks), (title, ticks)
    lo, hi = curves.ylims["label stability"]  # all zero, not a rate: from just below 0 to 0.05
    assert -0.01 < lo < 0 < 0.05 < hi < 0.06
    assert fit_limits([0.0, 0.0], unit=True) == pytest.approx((-0.005, 0.055))
    assert fit_limits([1.0, 1.0], unit=True) == pytest.approx((0.945, 1.005))
    assert fit_limits([0.0, 0.0], unit=False) == pytest.approx((-0.005, 0.055))
    assert fit_limits([-1.0, -1.0], unit=False)[0] < -1.0 < fit_limits([-1.0, -1.0], unit=False)[1]
    assert "evaluation before: pass@1 0.945" in curves.legends["rollout accuracy (vs hidden truth)"]
