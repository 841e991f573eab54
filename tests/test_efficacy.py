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


def _run(delta1: float, delta_k: float, regret_chosen: float = 0.0, regret_last: float = 0.0) -> dict:
    before = {"pass@1": 0.4, "maj@16": 0.8, "pass@16": 1.0}
    delta = {"pass@1": delta1, "maj@16": 0.0, "pass@16": delta_k}
    return {
        "before": before,
        "after": {k: before[k] + delta[k] for k in before},
        "delta": delta,
        "seconds": 280.0,
        "checkpoints": {"last": {"regret": regret_last}, "label_free": {"regret": regret_chosen}},
    }


def test_goals_are_measured_on_common_seeds_and_marked(efficacy):
    runs = {
        "frs": {0: _run(0.30, 0.0), 1: _run(0.20, -0.01, 0.02, 0.0), 2: _run(0.10, -0.06)},
        "oracle": {0: _run(0.30, 0.0), 1: _run(0.30, 0.0)},  # seed 2 missing: ratios use seeds 0-1 only
        "random": {0: _run(0.10, 0.0), 1: _run(0.09, 0.0)},
    }
    table = efficacy.summarize(runs)
    by_goal = {g["goal"].split(" ")[0]: g for g in efficacy.goals(runs, table, "frs")}
    assert by_goal["pass@1"]["met"] is False and "67 % of 3 seeds" in by_goal["pass@1"]["measured"]
    assert by_goal["pass@16"]["met"] is False and "worst -6.0" in by_goal["pass@16"]["measured"]
    assert by_goal["one"]["met"] is True  # 280 s < 300 s
    assert (
        by_goal["gain"]["met"] is True
        and "+25.0 vs +30.0 points on 2 common seeds (83 %)" in by_goal["gain"]["measured"]
    )
    assert by_goal["random's"]["met"] is False  # 9.5 > 25 / 3
    assert by_goal["label-free"]["met"] is False  # 0.7 points of regret is not below the last checkpoint's 0
    assert by_goal["stretch:"]["met"] is False  # 0.4 + 0.2 < 0.8
    text = efficacy.goals_markdown(efficacy.goals(runs, table, "frs"), "frs")
    assert text.count("**not met**") == 5 and text.count("**met**") == 2
    assert efficacy.goals(runs, table, "majority") == []  # a default that did not run: no goals


def test_demo_default_variant_is_the_demo_without_flags(efficacy):
    from ttrl_trl.demo.compare import parse_variants
    from ttrl_trl.demo.run import DemoConfig

    named = parse_variants([f"x={efficacy.VARIANTS[efficacy.DEMO_DEFAULT]}"], [])["x"]
    plain = DemoConfig()
    for field in (
        "vote_reward",
        "flip_rate_scaling",
        "control_reward",
        "low_consensus_threshold",
        "low_consensus_penalty",
    ):
        assert getattr(named, field) == getattr(plain, field), field


def test_readme_tables_are_the_kept_runs_report(efficacy, tmp_path):
    """The README's efficacy tables and goals are what the kept runs give, never a hand copy."""
    readme = tmp_path / "README.md"
    readme.write_text((REPO / "README.md").read_text())
    folders = efficacy.refresh_readme(readme, REPO)
    assert folders == ["benchmarks/results/efficacy/select", "benchmarks/results/efficacy/report"]
    assert readme.read_text() == (REPO / "README.md").read_text(), (
        "README's efficacy blocks are stale: python benchmarks/efficacy.py --readme README.md"
    )
    report = (REPO / "README.md").read_text().split("<!-- efficacy: benchmarks/results/efficacy/report -->")[1]
    assert "Goals for the demo default" in report.split("<!-- /efficacy -->")[0]  # report seeds: goals judged
    select = (REPO / "README.md").read_text().split("<!-- efficacy: benchmarks/results/efficacy/select -->")[1]
    assert "Goals" not in select.split("<!-- /efficacy -->")[0]  # selection seeds: never judged
