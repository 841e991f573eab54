"""The benchmarks still run and write their figures (at sizes that take seconds)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from ttrl_trl.tiny import build_char_tokenizer

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


# ---- the GPU check (benchmarks/gpu_check.py), at its CPU smoke shapes --------------------------------------


def import_benchmark(name: str):
    """A script of ``benchmarks/`` as a module (in-process: the suite has already paid for importing trl)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


@pytest.fixture(scope="module")
def gpu_check():
    return import_benchmark("gpu_check")


def test_gpu_check_smoke_writes_sane_figures(gpu_check, tmp_path):
    gpu_check.main(["--cpu-smoke", "--output_dir", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())

    env, shapes = report["environment"], report["shapes"]
    assert env["mode"] == "cpu-smoke" and env["device"] == "cpu"
    assert env["trl"] == version("trl") and env["torch"] == version("torch")
    assert shapes["model_type"] == "qwen2" and shapes["vocab_size"] == 256 and shapes["parameters"] > 0
    assert shapes["dtype"] == "float32" and shapes["gradient_checkpointing"] is True

    assert report["skipped"] == [] and list(report["phases"]) == [
        "grpo",
        "ttrl",
        "ttrl_2x",
        "ttrl_2x_one_call",
        "lora",
    ]
    completions = shapes["prompts_per_step"] * shapes["num_generations"]
    tokens = shapes["max_new_tokens"]
    votes = {"grpo": 1, "ttrl": 1, "ttrl_2x": 2, "ttrl_2x_one_call": 2, "lora": 1}
    for name, phase in report["phases"].items():
        assert len(phase["step_times_s"]) == (1 if name == "lora" else shapes["steps"])
        assert all(t > 0 for t in phase["step_times_s"]) and phase["median_step_s"] > 0
        # Every completion has exactly max_new_tokens tokens (min_new_tokens forces it), voted ones included.
        assert phase["completion_mean_length"] == tokens
        assert phase["generated_tokens_per_step"] == votes[name] * completions * tokens, name
        assert phase["generated_tokens_per_s"] > 0 and phase["peak_memory_gib"] is None
    assert set(report["ratios"]) == {
        "ttrl_over_grpo",
        "ttrl_2x_over_grpo",
        "ttrl_2x_one_call_over_grpo",
        "lora_over_ttrl",
    }
    # The default draws the 2x vote in two calls of TRL's own size; vote_rounds_per_call=2 in one of twice that.
    rows = {name: phase["rows_per_generate_call"] for name, phase in report["phases"].items()}
    assert rows["ttrl_2x"] == rows["grpo"] and rows["ttrl_2x_one_call"] == 2 * rows["grpo"]
    assert all(0 < r < float("inf") for r in report["ratios"].values())


def test_gpu_check_skips_phases_past_its_budget_and_still_writes_the_report(gpu_check, tmp_path):
    gpu_check.main(["--cpu-smoke", "--budget_s", "0", "--output_dir", str(tmp_path)])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["phases"] == {} and report["ratios"] == {}
    assert report["skipped"] == ["grpo", "ttrl", "ttrl_2x", "ttrl_2x_one_call", "lora"]


@pytest.mark.parametrize(
    "argv, field", [(["--phases", "grpo,nope"], "--phases"), (["--max_new_tokens", "0"], "--max_new_tokens")]
)
def test_gpu_check_bad_options_fail_before_any_model_loads(gpu_check, argv, field, capsys):
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--cpu-smoke", *argv])
    assert field in capsys.readouterr().err


def test_shipped_shape_is_qwen2_5_math_1_5b():
    """The published sizes: 1.54 B parameters, 1.31 B without the (tied) embedding."""
    config = AutoConfig.for_model(**json.loads((REPO / "benchmarks/shapes/Qwen2.5-Math-1.5B.json").read_text()))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    assert round(total / 1e9, 2) == 1.54
    assert round((total - config.vocab_size * config.hidden_size) / 1e9, 2) == 1.31
    assert config.max_position_embeddings == 4096 and config.tie_word_embeddings


def test_padded_char_tokenizer_decodes_every_id_and_keeps_text():
    tokenizer = build_char_tokenizer(vocab_size=300)
    assert len(tokenizer) == 300
    text = "Compute 2 + 3.\n\\boxed{5}"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    assert max(tokenizer(text)["input_ids"]) < 104  # text never encodes to a filler token
    assert tokenizer.decode([299]) == "<|f299|>"
    with pytest.raises(ValueError, match="vocab_size"):
        build_char_tokenizer(vocab_size=50)


def test_install_wheels_picks_only_missing_distributions(tmp_path):
    install_wheels = import_benchmark("install_wheels")
    for name in ("trl-1.16.0-py3-none-any.whl", "math_verify-0.9.0-py3-none-any.whl",
                 "surely_not_installed_pkg-1.0-py3-none-any.whl"):  # fmt: skip
        (tmp_path / name).touch()
    assert [w.name for w in install_wheels.missing_wheels(tmp_path)] == [
        "surely_not_installed_pkg-1.0-py3-none-any.whl"
    ]


# ---- adaptive voting (benchmarks/adaptive_vote.py), at sizes that take seconds -----------------------------


def test_adaptive_vote_benchmark_replays_the_rule_and_times_the_trainers(tmp_path):
    adaptive_vote = import_benchmark("adaptive_vote")
    out = tmp_path / "adaptive.json"
    report = adaptive_vote.main([
        "--problems", "4", "--n_votes", "16", "--warmup_steps", "5", "--ttrl_steps", "0", "--timing_steps", "1",
        "--timing_warmup", "0", "--repeats", "1", "--confidences", "0.6,0.99", "--output", str(out),
    ])  # fmt: skip
    assert json.loads(out.read_text())["settings"]["n_votes"] == 16
    by_c = report["after_warmup"]["by_confidence"]
    assert set(by_c) == {"0.6", "0.99"}
    for r in by_c.values():
        assert 0 <= r["label_agreement"] <= 1 and 0 <= r["vote_only_saved"] <= 1 and 8 <= r["mean_votes"] <= 16
    # A stricter rule never draws fewer votes, so it never saves more.
    assert by_c["0.99"]["mean_votes"] >= by_c["0.6"]["mean_votes"]
    timing = report["timing"]
    assert timing["ratio_ttrl_2x_over_grpo"] > 0 and timing["ratio_ttrl_2x_adaptive_over_grpo"] > 0
    assert timing["mean_votes_per_prompt"]["ttrl_2x"] == 16
    assert 8 <= timing["mean_votes_per_prompt"]["ttrl_2x_adaptive"] <= 16
    # CPU time per step next to wall time, and what each variant generated (the 2x vote: twice GRPO's rows).
    assert timing["cpu_ratio_ttrl_2x_over_grpo"] > 0 and timing["cpu_ratio_ttrl_2x_adaptive_over_grpo"] > 0
    tokens = timing["mean_generated_tokens"]
    assert 0 < tokens["grpo"] < tokens["ttrl_2x"] and tokens["ttrl_2x_adaptive"] > 0
    assert 0 <= timing["mean_settled_fraction"] <= 1
