"""The efficacy protocol at a reduced size: controls through the trainer, report files, resume, bad input."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--hidden_size", "32", "--num_layers", "1", "--num_heads", "2", "--warmup_steps", "10",
    "--warmup_batch_size", "8", "--eval_problems", "4", "--eval_samples", "4", "--ttrl_steps", "2",
    "--prompts_per_step", "2", "--num_generations", "4", "--n_votes_per_prompt", "8",
]  # fmt: skip


@pytest.fixture(scope="module")
def efficacy():
    spec = importlib.util.spec_from_file_location("efficacy", REPO / "benchmarks" / "efficacy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["efficacy"] = module
    spec.loader.exec_module(module)
    return module


def test_seeds_variants_and_intervals(efficacy):
    assert efficacy.parse_seeds("0-3,2,7") == [0, 1, 2, 3, 7]
    assert efficacy.parse_variants("oracle,random", ["x=--learning_rate 1e-5"]) == {
        "oracle": "--control_reward oracle --flip_rate_scaling false",
        "random": "--control_reward random --flip_rate_scaling false", "x": "--learning_rate 1e-5",
    }  # fmt: skip
    ci = efficacy.mean_ci([0.1, 0.2, 0.3])
    assert ci["mean"] == pytest.approx(0.2) and ci["high"] - ci["mean"] == pytest.approx(4.303 * 0.1 / 3**0.5)
    assert efficacy.mean_ci([0.4]) == {"mean": 0.4, "low": 0.4, "high": 0.4, "n": 1}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--variants", "oracle,magic"], "--variants: unknown variant 'magic'"),
        (["--seeds", "a-b"], "--seeds must read like"),
        (["--eval_every", "0"], "--eval_every must be >= 1"),
        (["--variants", "oracle", "--control_reward", "gold"], "not valid demo flags"),
    ],
)
def test_bad_input_is_one_line_before_any_model(efficacy, tmp_path, capsys, argv, message):
    assert efficacy.main([*argv, "--output_dir", str(tmp_path / "e"), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not list((tmp_path / "e").glob("seed*/warm"))


def test_protocol_runs_controls_writes_reports_and_resumes(efficacy, tmp_path):
    out = tmp_path / "eff"
    argv = ["--seeds", "3", "--variants", "oracle,random", "--eval_every", "1", "--output_dir", str(out), *TINY]
    assert efficacy.main(argv) == 0
    report = json.loads((out / "efficacy.json").read_text())
    assert set(report["variants"]) == {"oracle", "random"}
    for name, entry in report["variants"].items():
        assert entry["seeds"] == [3] and set(entry["delta"]) == {"pass@1", "maj@4", "pass@4"}
        run = report["runs"][name]["3"]
        assert run["options"]["control_reward"] == name
        checkpoints = run["checkpoints"]
        assert checkpoints["steps"] == [1, 2]  # evaluated with labels at every step (eval_every 1)
        assert checkpoints["oracle_best"]["pass@1"] == max(checkpoints["pass@1"].values())
        assert checkpoints["last"]["step"] == 2 and checkpoints["label_free"]["step"] in (1, 2)
        # the last labelled evaluation is the after-evaluation: same settings, same seed, same weights
        assert checkpoints["pass@1"]["2"] == pytest.approx(run["after"]["pass@1"])
    assert "| oracle | 1 |" in (out / "efficacy.md").read_text()
    assert (out / "efficacy.png").read_bytes()[:4] == b"\x89PNG"
    stamp = (out / "seed3" / "oracle" / "summary.json").stat().st_mtime_ns
    assert efficacy.main(argv) == 0  # resumed: nothing is redone
    assert (out / "seed3" / "oracle" / "summary.json").stat().st_mtime_ns == stamp
