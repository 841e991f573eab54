"""Benchmark evaluation during training: logged at the right steps, equal to `ttrl_trl.evaluate` on the
saved checkpoint, best checkpoint kept by transformers' machinery, bad input refused before any model."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import cli_error, tiny_config, toy_dataset

from ttrl_trl.train import main as train_main
from ttrl_trl.training import benchmark_eval
from ttrl_trl.training.benchmark_eval import benchmark_metrics, grade_problem, preserved_rng, rank_slice
from ttrl_trl.training.config import TTRLConfig

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "ttrl" / "aime24.yaml"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _benchmark_file(shared_data: Path, path: Path, answers: list[str]) -> Path:
    """AIME questions with single-digit gold answers, which the random tiny model sometimes writes: the
    figures then depend on the exact samples, so agreeing with the evaluator means sampling identically."""
    rows = json.loads((shared_data / "aime24.json").read_text())[: len(answers)]
    path.write_text(json.dumps([row | {"answer": answer} for row, answer in zip(rows, answers)]))
    return path


def _logged(history: list[dict], key: str) -> dict[int, float]:
    return {row["step"]: row[key] for row in history if key in row}


@pytest.mark.slow
def test_tiny_recipe_logs_the_benchmark_that_evaluate_reproduces(tiny_model_path, shared_data, tmp_path):
    bench = _benchmark_file(shared_data, tmp_path / "bench.json", ["5", "4", "1", "4"])
    out = tmp_path / "run"
    train_main([
        "--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path),
        "--dataset", str(shared_data / "aime24.json"), "--output_dir", str(out),
        "--benchmark_eval_steps", "2", "--benchmark_eval_dataset", str(bench), "--benchmark_eval_num_samples", "8",
        "--metric_for_best_model", "benchmark/no_answer_rate", "--greater_is_better", "false",
    ])  # fmt: skip
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    history = state["log_history"]
    logged = {key: _logged(history, f"benchmark/{key}") for key in ("pass@1", "maj@8", "pass@8", "no_answer_rate")}
    assert list(logged["pass@1"]) == [2, 4]
    assert all(0.0 <= v <= 1.0 for values in logged.values() for v in values.values())
    assert 0 < logged["no_answer_rate"][4] < 1  # the samples are not all alike: the comparison below has teeth
    # The training rows of the evaluated steps still carry the TTRL metrics (nothing was swallowed).
    assert all("ttrl/majority_ratio" in row for row in history if "benchmark/pass@1" in row)

    # Best checkpoint, chosen by transformers from the logged metric (lower no-answer rate is better here).
    steps = logged["no_answer_rate"]
    best_step = min(steps, key=lambda s: (steps[s], s))
    assert state["best_global_step"] == best_step and state["best_metric"] == steps[best_step]
    assert state["best_model_checkpoint"] == str(out / f"checkpoint-{best_step}")

    # `python -m ttrl_trl.evaluate` on the saved checkpoint, same seed and settings: the same figures.
    proc = subprocess.run(
        [sys.executable, "-m", "ttrl_trl.evaluate", "--model_name_or_path", str(out / "checkpoint-4"),
         "--dataset", str(bench), "--num_samples", "8", "--temperature", "0.6", "--top_p", "0.95",
         "--max_new_tokens", "32", "--seed", "42", "--backend", "transformers", "--output_dir", str(tmp_path / "eval")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    for key, values in logged.items():
        assert values[4] == pytest.approx(summary[key], abs=1e-12), key

    # `make plot` on the run draws the benchmark panel.
    proc = subprocess.run(
        ["make", "-o", "install", "plot", f"RUN={out}", f"PY={sys.executable}"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "curves.png").stat().st_size > 0 and "benchmark during training" in proc.stdout


def test_best_checkpoint_is_the_one_with_the_best_logged_metric(tiny_model_path, tmp_path, monkeypatch):
    """save_strategy=best + load_best_model_at_end: a checkpoint only when benchmark/pass@1 improves, and the
    trainer ends on the best weights."""
    from ttrl_trl.training.trainer import TTRLTrainer

    scripted = iter([0.2, 0.6, 0.4])
    evaluated_steps = []

    def fake_evaluate(trainer, rows, settings):
        evaluated_steps.append(trainer.state.global_step)
        value = next(scripted)
        return {"benchmark/pass@1": value, "benchmark/maj@4": value, "benchmark/pass@4": value}

    monkeypatch.setattr(benchmark_eval, "evaluate_benchmark", fake_evaluate)
    args = tiny_config(
        tmp_path, max_steps=6, benchmark_eval_steps=2, benchmark_eval_num_samples=4, save_strategy="best",
        metric_for_best_model="benchmark/pass@1", load_best_model_at_end=True, learning_rate=5e-2,
    )  # fmt: skip
    data = toy_dataset(2, answers=["1", "2"])
    trainer = TTRLTrainer(model=str(tiny_model_path), args=args, train_dataset=data, benchmark_dataset=data)
    trainer.train()
    assert evaluated_steps == [2, 4, 6]
    assert trainer.state.best_global_step == 4 and trainer.state.best_metric == pytest.approx(0.6)
    assert trainer.state.best_model_checkpoint == str(tmp_path / "checkpoint-4")
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    logged = _logged(trainer.state.log_history, "benchmark/pass@1")
    assert logged == pytest.approx({2: 0.2, 4: 0.6, 6: 0.4})
    from safetensors.torch import load_file

    best = load_file(str(tmp_path / "checkpoint-4" / "model.safetensors"))
    for name, value in trainer.model.state_dict().items():
        if name in best:
            assert torch.equal(value, best[name]), name


def test_metrics_are_the_evaluators_and_ranks_cover_every_problem_once():
    records = [grade_problem("4", ["\\boxed{4}", "\\boxed{4}", "\\boxed{5}", "no"]), grade_problem("1", ["\\boxed{2}"] * 4)]
    assert benchmark_metrics(records, 4) == {
        "benchmark/pass@1": pytest.approx(0.25), "benchmark/maj@4": 0.5, "benchmark/pass@4": 0.5,
        "benchmark/no_answer_rate": pytest.approx(0.125),
    }  # fmt: skip
    for n in (1, 5, 8, 30):
        for world in (1, 2, 3, 8):
            shares = [rank_slice(n, world, rank) for rank in range(world)]
            assert [i for share, _ in shares for i in share] == list(range(n))
            assert len({per_rank for _, per_rank in shares}) == 1 and all(len(s) <= p for s, p in shares)


def test_evaluation_leaves_the_training_rng_where_it_was():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with preserved_rng():
        torch.manual_seed(123), random.seed(5), np.random.seed(9)
        torch.rand(10)
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"benchmark_eval_num_samples": 0}, "benchmark_eval_num_samples"),
        ({"benchmark_eval_temperature": 0.0}, "benchmark_eval_temperature=0"),
        ({"benchmark_eval_temperature": -1.0}, "benchmark_eval_temperature"),
        ({"benchmark_eval_top_p": 1.5}, "benchmark_eval_top_p"),
        ({"benchmark_eval_max_new_tokens": 0}, "benchmark_eval_max_new_tokens"),
        ({"benchmark_eval_max_problems": 0}, "benchmark_eval_max_problems"),
        ({"metric_for_best_model": "benchmark/pass@8"}, "benchmark/pass@8"),
        ({"metric_for_best_model": "benchmark/pass@1", "save_steps": 3}, "save_strategy: best"),
        ({"metric_for_best_model": "benchmark/pass@1", "load_best_model_at_end": True}, "save_strategy: best"),
        ({"benchmark_eval_steps": 0, "metric_for_best_model": "benchmark/pass@1"}, "benchmark_eval_steps"),
        # transformers would look for eval_benchmark/pass@1 in the eval_dataset's metrics: KeyError, hours in.
        ({"metric_for_best_model": "benchmark/pass@1", "eval_strategy": "steps"}, "eval_strategy='steps'"),
        ({"metric_for_best_model": "benchmark/no_answer_rate", "greater_is_better": True}, "greater_is_better"),
    ],
)
def test_bad_settings_fail_naming_the_field(tmp_path, overrides, field):
    kwargs = {"benchmark_eval_steps": 2, "save_strategy": "steps", "save_steps": 2} | overrides
    with pytest.raises(ValueError, match=field):
        TTRLConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=4, n_votes_per_prompt=8, **kwargs)
    assert TTRLConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=4, n_votes_per_prompt=8,
                      max_completion_length=77, benchmark_eval_steps=2).benchmark_eval_max_new_tokens == 77  # fmt: skip


def test_the_best_no_answer_rate_is_the_lowest(tmp_path):
    common = dict(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=4, n_votes_per_prompt=8,
                  benchmark_eval_steps=2, save_strategy="best")  # fmt: skip
    assert TTRLConfig(**common, metric_for_best_model="benchmark/no_answer_rate").greater_is_better is False
    assert TTRLConfig(**common, metric_for_best_model="benchmark/pass@1").greater_is_better is True


SAMPLING_FIELDS = ("num_samples", "temperature", "top_p", "max_new_tokens", "batch_size", "max_problems")


@pytest.mark.parametrize(
    ("field", "value"),
    [("num_samples", 0), ("temperature", -1.0), ("temperature", 0.0), ("top_p", 1.5), ("top_p", 0.0),
     ("max_new_tokens", 0), ("batch_size", 0), ("max_problems", 0)],
)  # fmt: skip
def test_benchmark_sampling_is_refused_exactly_as_ttrl_eval_refuses_it(tmp_path, field, value):
    """One set of checks: the training config's message is ttrl-eval's, naming the benchmark_eval_ fields."""
    from ttrl_trl.evaluation.config import EvalConfig, validate_config

    with pytest.raises(ValueError) as from_eval:
        validate_config(EvalConfig(model_name_or_path="Qwen/x", **{field: value}))
    with pytest.raises(ValueError) as from_training:
        TTRLConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=4, n_votes_per_prompt=8,
                   benchmark_eval_steps=2, **{f"benchmark_eval_{field}": value})  # fmt: skip
    names = "|".join(SAMPLING_FIELDS)
    expected = re.sub(rf"\b({names})(?==| to )", r"benchmark_eval_\1", str(from_eval.value))
    assert str(from_training.value) == expected
    assert f"benchmark_eval_{field}=" in expected


def test_benchmark_without_answers_fails_before_the_model_loads(shared_data, tiny_model_path, tmp_path):
    no_answers = tmp_path / "questions.json"
    no_answers.write_text(json.dumps([{"prompt": "1+1?"}, {"prompt": "2+2?"}]))
    common = ["--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path),
              "--output_dir", str(tmp_path / "out"), "--benchmark_eval_steps", "2"]  # fmt: skip
    line = cli_error(train_main, [*common, "--dataset", str(shared_data / "aime24.json"),
                                  "--benchmark_eval_dataset", str(no_answers)], "train")  # fmt: skip
    assert re.search(r"benchmark_eval_dataset.*no answer column", line)
    # The default benchmark is the training set: without answers it cannot be graded either.
    line = cli_error(train_main, [*common, "--dataset", str(no_answers)], "train")
    assert "benchmark_eval_dataset (default: the training dataset" in line
    line = cli_error(train_main, [*common, "--dataset", str(shared_data / "aime24.json"),
                                  "--benchmark_eval_top_p", "0"], "train")  # fmt: skip
    assert "benchmark_eval_top_p" in line
    assert not (tmp_path / "out").exists()
