"""The voting benchmark still runs and writes its figures (at a size that takes seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_voting_benchmark_writes_its_figures(tmp_path):
    out = tmp_path / "voting.json"
    subprocess.run(
        [sys.executable, "benchmarks/voting.py", "--n", "8", "--chars", "200", "--repeats", "2",
         "--baseline-repeats", "1", "--pair-repeats", "1", "--output", str(out)],
        cwd=REPO, check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert report["n_completions"] == 8
    assert report["majority_vote_median_ms"] > 0 and report["naive_all_pairs_median_ms"] > 0
    assert report["per_call_median_ms"] > 0 and report["per_call_math_verify_median_ms"] > 0
    assert report["majority_vote_labels_correct"] == 1.0 and report["naive_labels_correct"] == 1.0
