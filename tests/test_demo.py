"""The CPU demo at a reduced size: every phase runs through the real code paths and writes its files."""

from __future__ import annotations

import json
import random

import pytest

from ttrl_trl.demo.run import main
from ttrl_trl.demo.task import ALL_PAIRS, solution_text, split_pairs, write_problems
from ttrl_trl.vote.voting import extract_answer

# A model small enough that warm-up, two evaluations and TTRL take seconds.
TINY = [
    "--threads", "1", "--hidden_size", "32", "--num_layers", "1", "--num_heads", "2",
    "--warmup_steps", "10", "--warmup_batch_size", "8",
    "--eval_problems", "4", "--eval_samples", "4",
    "--ttrl_steps", "2", "--prompts_per_step", "2", "--num_generations", "4", "--n_votes_per_prompt", "8",
]  # fmt: skip


def test_scratchpad_is_right_without_noise_and_consistent_with_noise():
    for a, b in random.Random(0).sample(ALL_PAIRS, 200):
        assert extract_answer(solution_text(a, b)) == str(a + b)
        noisy = solution_text(a, b, eps=0.5, rng=random.Random(a * 100 + b))
        units, tens = (int(step.split("=")[1]) for step in noisy.split(";")[:2])
        assert extract_answer(noisy) == str(tens * 10 + units % 10)  # the box follows the (noisy) steps
    assert solution_text(47, 38) == "7+8=15;4+3+1=8;\\boxed{85}"
    assert solution_text(12, 13) == "2+3=5;1+1=2;\\boxed{25}"


def test_split_holds_out_unseen_problems(tmp_path):
    train, test = split_pairs(50, seed=3)
    assert len(test) == 50 and len(train) == len(ALL_PAIRS) - 50 and not set(train) & set(test)
    assert split_pairs(50, seed=3) == (train, test)
    rows = json.loads(write_problems(test, tmp_path / "p.json").read_text())
    assert rows[0] == {"problem": f"{test[0][0]}+{test[0][1]}=", "answer": str(sum(test[0]))}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = main([*TINY, "--seed", "7", "--output_dir", str(out)])
    return out, summary


def test_demo_writes_summary_log_and_curves(demo_run):
    out, returned = demo_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(returned))
    assert {"before", "after", "steps", "seconds", "seed"} <= set(summary)
    assert summary["steps"] == 2 and summary["seed"] == 7 and summary["seconds"] > 0
    assert summary["options"] == {
        "vote_reward": "soft", "min_majority_ratio": 0.0, "max_majority_ratio": 1.0, "control_reward": None,
        "learning_rate": 4e-5, "low_consensus_threshold": None, "low_consensus_penalty": 0.0,
        "flip_rate_scaling": True,
    }  # fmt: skip
    assert summary["threads"] == 1 and summary["config"]["threads"] == "1" and summary["threads_reason"] == "--threads 1"
    for phase in ("before", "after"):
        assert set(summary[phase]) == {"pass@1", "maj@4", "pass@4"}
        assert all(0.0 <= v <= 1.0 for v in summary[phase].values())

    rows = [json.loads(line) for line in (out / "log_history.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "ttrl/majority_ratio" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for row in steps:
        for key in ("reward", "ttrl/majority_ratio", "ttrl/label_accuracy", "ttrl/rollout_accuracy"):
            assert 0.0 <= row[key] <= 1.0, (key, row)

    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "warm" / "config.json").is_file() and (out / "ttrl" / "config.json").is_file()
    card = (out / "ttrl" / "README.md").read_text()  # what `ttrl_trl.push` would publish: the demo's own options
    assert "Reward (`vote_reward: soft`)" in card and f"the local file `{out / 'problems.json'}` (4 questions)" in card
    for phase in ("eval_before", "eval_after"):
        assert len((out / phase / "generations.jsonl").read_text().splitlines()) == 4


def test_demo_is_deterministic_for_a_seed(demo_run, tmp_path):
    out, first = demo_run
    again = main([*TINY, "--seed", "7", "--output_dir", str(tmp_path / "again")])
    assert (again["before"], again["after"]) == (first["before"], first["after"])
    logged = [
        [{k: v for k, v in json.loads(line).items() if k.startswith(("ttrl/", "reward", "loss"))} for line in lines]
        for lines in (
            (out / "log_history.jsonl").read_text().splitlines(),
            (tmp_path / "again" / "log_history.jsonl").read_text().splitlines(),
        )
    ]
    assert logged[0] == logged[1]


def test_compare_shares_the_warm_up_and_reproduces_each_stand_alone_demo(tmp_path):
    from ttrl_trl.demo.compare import main as compare

    soft = "--vote_reward soft --min_majority_ratio 0.25"
    rows = compare([*TINY, "--seed", "7", "--output_dir", str(tmp_path / "cmp"), "--variant", f"soft={soft}"])
    alone = main([*TINY, "--seed", "7", "--output_dir", str(tmp_path / "alone"), *soft.split()])
    assert [r["variant"] for r in rows] == ["soft"]
    assert (rows[0]["before"], rows[0]["after"]) == (alone["before"], alone["after"])
    assert {k: rows[0]["options"][k] for k in ("vote_reward", "min_majority_ratio", "max_majority_ratio")} == {
        "vote_reward": "soft", "min_majority_ratio": 0.25, "max_majority_ratio": 1.0,
    }  # fmt: skip
    saved = json.loads((tmp_path / "cmp" / "soft" / "summary.json").read_text())
    assert saved["options"]["vote_reward"] == "soft" and (tmp_path / "cmp" / "comparison.json").is_file()
    assert (tmp_path / "cmp" / "soft" / "curves.png").is_file()
    with pytest.raises(ValueError, match="changes \\['eval_samples'\\]"):
        compare([*TINY, "--output_dir", str(tmp_path / "bad"), "--variant", "x=--eval_samples 8"])


def test_closing_line_times_the_ttrl_phase_and_the_whole_demo_apart():
    from ttrl_trl.demo.run import format_table

    summary = {"seed": 0, "steps": 150, "seconds": 2126.4, "phase_seconds": {"warmup": 985.0, "ttrl": 1115.2},
               "threads": 2, "options": {"vote_reward": "soft"}, "config": {"output_dir": "outputs/demo"},
               "before": {"pass@1": 0.5, "maj@16": 0.9, "pass@16": 1.0},
               "after": {"pass@1": 0.8, "maj@16": 0.95, "pass@16": 0.99}}  # fmt: skip
    line = format_table(summary, 16).splitlines()[1]
    assert line.startswith("TTRL demo, seed 0: TTRL 150 steps in 1115 s, whole demo (warm-up, two evaluations, TTRL) 2126 s")
    assert "2 thread(s)" in line and "vote_reward soft" in line


def test_threads_auto_takes_one_on_a_busy_machine_and_two_only_when_clearly_faster(monkeypatch):
    import ttrl_trl.demo.threads as threads
    from ttrl_trl.demo.run import DemoConfig

    probes: list[int] = []
    speeds = {"fast": {1: 0.10, 2: 0.06}, "same": {1: 0.10, 2: 0.095}}
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    for load, probe, expected in ((1.2, "fast", 1), (0.1, "fast", 2), (0.1, "same", 1)):
        monkeypatch.setattr(threads.os, "getloadavg", lambda load=load: (load, load, load))
        monkeypatch.setattr(threads, "probe_seconds", lambda *a, probe=probe: probes.append(1) or speeds[probe])
        choice = threads.choose_threads("auto")
        assert choice.used == expected and choice.reason.startswith("auto: "), (load, probe, choice)
        if load > 1:
            assert "load average 1.2 on 2 cores leaves less than one idle" in choice.reason
    assert len(probes) == 2  # the busy machine was not probed: its load average said enough
    monkeypatch.setattr(threads, "available_cores", lambda: 1)
    assert threads.choose_threads("auto").used == 1
    assert threads.choose_threads("2") == threads.ThreadChoice(2, "--threads 2")
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match="threads must be 'auto' or a positive integer"):
            DemoConfig(threads=bad)


def test_thread_probe_times_both_counts_and_restores_torch():
    import torch

    from ttrl_trl.demo.threads import probe_seconds

    before = torch.get_num_threads()
    seconds = probe_seconds(hidden_size=32, num_layers=1, num_heads=2, rounds=1)
    assert set(seconds) == {1, 2} and all(s > 0 for s in seconds.values())
    assert torch.get_num_threads() == before
