"""Bad input a new user types, for every command: one line on stderr, exit code 2, fast, nothing written.

The table runs each command in-process (its own time, without the ~5-10 s import of torch + TRL that
a fresh process pays; progress bars would be caught too, as they write to the redirected stderr). The
training row also runs as a real subprocess, so a warning printed while importing or building TRL's
config would show up there (the eval and push imports print none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "ttrl" / "aime24.yaml"


def _inputs(root: Path, tiny_model_path: Path, shared_data: Path) -> dict[str, str]:
    empty = root / "empty.jsonl"
    empty.write_text("")
    bad_lines = root / "bad.jsonl"  # line 3 (1-based) is cut short
    bad_lines.write_text('{"problem": "1+1", "answer": "2"}\n{"problem": "2+2", "answer": "4"}\n'
                         '{"problem": "3+3", "answer": 6\n{"problem": "4+4", "answer": "8"}\n')
    bad_list = root / "bad.json"  # a missing comma on line 3
    bad_list.write_text('[\n {"problem": "1+1", "answer": "2"},\n {"problem": "2+2" "answer": "4"}\n]\n')
    typo = root / "typo.yaml"
    typo.write_text(TINY_RECIPE.read_text() + "n_vote_per_prompt: 16\n")
    return {"model": str(tiny_model_path), "data": str(shared_data / "aime24.json"), "empty": str(empty),
            "typo": str(typo), "recipe": str(TINY_RECIPE), "out": str(root / "out"),
            "bad_lines": str(bad_lines), "bad_list": str(bad_list)}  # fmt: skip


# (command, arguments with {placeholders}, words the one error line must contain)
CASES = {
    "train-missing-model": ("train", "--config {recipe} --model_name_or_path outputs/no-such-model --dataset {data} "
                            "--output_dir {out}", ["'outputs/no-such-model' does not exist"]),
    "train-empty-file": ("train", "--config {recipe} --model_name_or_path {model} --dataset {empty} --output_dir {out}",
                         ["empty.jsonl", "is empty"]),
    "train-malformed-jsonl": ("train", "--config {recipe} --model_name_or_path {model} --dataset {bad_lines} "
                              "--output_dir {out}", ["bad.jsonl' is not valid JSON at line 3, column"]),
    "train-malformed-json": ("train", "--config {recipe} --model_name_or_path {model} --dataset {bad_list} "
                             "--output_dir {out}", ["bad.json' is not valid JSON at line 3, column"]),
    "train-wrong-column": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} --output_dir {out} "
                           "--problem_column question_text", ["'question_text'", "--problem_column"]),
    "train-hub-model-offline": ("train", "--config {recipe} --model_name_or_path nobody/no-such-model --dataset {data} "
                                "--output_dir {out}", ["model_name_or_path 'nobody/no-such-model' is not in the local "
                                                       "Hugging Face cache and HF_HUB_OFFLINE is set"]),
    "train-push-without-hub-id": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} "
                                  "--output_dir {out} --push_to_hub", ["--push_to_hub needs --hub_model_id"]),
    "train-typo-field": ("train", "--config {typo} --model_name_or_path {model} --dataset {data} --output_dir {out}",
                         ["'n_vote_per_prompt'", "did you mean 'n_votes_per_prompt'"]),
    "train-best-metric-with-eval-strategy": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} "
                                            "--output_dir {out} --benchmark_eval_steps 2 --metric_for_best_model "
                                            "benchmark/pass@1 --eval_strategy steps",
                                            ["metric_for_best_model='benchmark/pass@1'", "eval_strategy='steps'"]),
    "train-best-no-answer-rate-greater": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} "
                                          "--output_dir {out} --benchmark_eval_steps 2 --metric_for_best_model "
                                          "benchmark/no_answer_rate --greater_is_better true",
                                          ["'benchmark/no_answer_rate'", "greater_is_better: false"]),
    "train-trm-with-vllm-sequence-mask": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} "
                                          "--output_dir {out} --trm_delta_max 2.0 --use_vllm true",
                                          ["vllm_importance_sampling_mode='sequence_mask'", "trm_delta_max",
                                           "vllm_importance_sampling_correction: false"]),
    "train-unknown-control": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} --output_dir {out} "
                              "--control_reward gold", ["control_reward", "oracle"]),
    "train-guard-out-of-range": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} --output_dir "
                                 "{out} --low_consensus_threshold 2", ["low_consensus_threshold must be in (0, 1]"]),
    "train-selection-score-with-eval-strategy": ("train", "--config {recipe} --model_name_or_path {model} --dataset "
                                                 "{data} --output_dir {out} --metric_for_best_model ttrl/selection_score "
                                                 "--eval_strategy steps", ["ttrl/selection_score", "eval_strategy"]),
    "train-trm-with-opsm": ("train", "--config {recipe} --model_name_or_path {model} --dataset {data} --output_dir "
                            "{out} --trm_delta_avg 0.05 --off_policy_mask_threshold 0.5",
                            ["off_policy_mask_threshold", "trm_delta_avg"]),
    "eval-missing-model": ("eval", "--model_name_or_path ./outputs/no-such-model --dataset {data} --output_dir {out}",
                           ["'./outputs/no-such-model' does not exist"]),
    "eval-empty-file": ("eval", "--model_name_or_path {model} --dataset {empty} --output_dir {out}",
                        ["empty.jsonl", "is empty"]),
    "eval-malformed-jsonl": ("eval", "--model_name_or_path {model} --dataset {bad_lines} --output_dir {out}",
                             ["bad.jsonl' is not valid JSON at line 3, column"]),
    "eval-wrong-column": ("eval", "--model_name_or_path {model} --dataset {data} --output_dir {out} "
                          "--answer_column gold", ["'gold'", "--answer_column"]),
    "eval-typo-field": ("eval", "--model_name_or_path {model} --dataset {data} --output_dir {out} --num_smaples 4",
                        ["'num_smaples'", "did you mean 'num_samples'"]),
    "eval-missing-compare": ("eval", "--model_name_or_path {model} --dataset {data} --output_dir {out} "
                             "--compare outputs/no-such-run/summary.json", ["compare=", "does not exist"]),
    "push-missing-model-dir": ("push", "--model_dir {out}/no-such-run --hub_model_id me/x --dry_run",
                               ["--model_dir", "no-such-run' does not exist"]),
}  # fmt: skip
MODULES = {"train": "ttrl_trl.train", "eval": "ttrl_trl.evaluate", "push": "ttrl_trl.push"}
IN_SUBPROCESS = ("train-missing-model",)


def _entry_point(command: str) -> Callable[[list[str]], int | None]:
    from ttrl_trl import push, train
    from ttrl_trl.evaluate import main as eval_main

    return {"train": train.main, "eval": eval_main, "push": push.main}[command]


def _run_subprocess(command: str, argv: list[str], cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", MODULES[command], *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    return proc.returncode, proc.stderr


def _check(code: int | None, stderr: str, command: str, needles: list[str], root: Path, before: set[Path]) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ttrl-{command}: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert set(root.rglob("*")) == before, "nothing may be written"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_in_process(case, tiny_model_path, shared_data, tmp_path, monkeypatch) -> None:
    command, template, needles = CASES[case]
    argv = template.format(**_inputs(tmp_path, tiny_model_path, shared_data)).split()
    monkeypatch.chdir(tmp_path)  # a default output folder (outputs/...) would land here
    before = set(tmp_path.rglob("*"))
    start = time.perf_counter()
    code, stderr = run_cli(_entry_point(command), argv)
    assert time.perf_counter() - start < 10
    _check(code, stderr, command, needles, tmp_path, before)


@pytest.mark.parametrize("case", IN_SUBPROCESS)
def test_bad_input_in_a_fresh_process(case, tiny_model_path, shared_data, tmp_path) -> None:
    command, template, needles = CASES[case]
    argv = template.format(**_inputs(tmp_path, tiny_model_path, shared_data)).split()
    before = set(tmp_path.rglob("*"))
    code, stderr = _run_subprocess(command, argv, cwd=tmp_path)
    _check(code, stderr, command, needles, tmp_path, before)


def test_summary_json_of_compare_may_be_its_folder(tmp_path: Path) -> None:
    from ttrl_trl.evaluate import load_summary

    (tmp_path / "summary.json").write_text(json.dumps({"pass@1": 0.5}))
    assert load_summary(tmp_path)["pass@1"] == 0.5


def _hub_error(exception: type[Exception]) -> Exception:
    """A huggingface_hub HTTP error without a real HTTP response behind it."""
    error = exception.__new__(exception)
    Exception.__init__(error, "404 Client Error")
    return error


def test_hub_model_id_is_checked_online_too(monkeypatch) -> None:
    """With network access allowed but no network: one line at once, not from_pretrained's retries."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    from ttrl_trl.hub import hub_model_error

    class ConnectError(Exception):  # what httpx raises without network
        pass

    outcome: list[Exception] = []

    def model_info(self, repo_id, revision=None, timeout=None):
        assert timeout is not None and timeout <= 10
        if outcome:
            raise outcome[0]

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    assert hub_model_error("owner/model", "model_name_or_path") is None  # the Hub knows it
    outcome.append(ConnectError("[Errno -2] Name or service not known"))
    assert hub_model_error("owner/model", "model_name_or_path") == (
        "model_name_or_path 'owner/model' is not in the local Hugging Face cache and the Hub cannot be reached "
        "(ConnectError: [Errno -2] Name or service not known); connect, download it (`hf download owner/model`), "
        "or pass a local model folder."
    )
    outcome[0] = _hub_error(RepositoryNotFoundError)
    assert "'owner/model' is not on the Hub" in hub_model_error("owner/model", "model_name_or_path")
    outcome[0] = _hub_error(GatedRepoError)
    assert "is a gated model: accept its licence" in hub_model_error("owner/model", "model_name_or_path")
    # A cached model and a local folder are never sent to the Hub.
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: "/cache/config.json")
    assert hub_model_error("owner/model", "model_name_or_path") is None
    assert hub_model_error("./outputs/run", "model_name_or_path") is None
