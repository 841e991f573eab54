"""The user's command, end to end: `python -m ttrl_trl.train --config recipes/tiny/...` on a CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "ttrl" / "aime24.yaml"
TINY_LORA_RECIPE = REPO / "recipes" / "tiny" / "ttrl" / "aime24_lora.yaml"


def run_train(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "ttrl_trl.train", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def _common(tiny_model_path: Path, shared_data: Path, out: Path) -> list[str]:
    return [
        "--model_name_or_path",
        str(tiny_model_path),
        "--dataset",
        str(shared_data / "aime24.json"),
        "--output_dir",
        str(out),
    ]


def _state(path: Path) -> dict:
    return json.loads((path / "trainer_state.json").read_text())


@pytest.mark.slow
def test_tiny_recipe_trains_saves_logs_and_resumes(tiny_model_path, shared_data, tmp_path):
    out = tmp_path / "run"
    run_train("--config", str(TINY_RECIPE), *_common(tiny_model_path, shared_data, out))
    assert (out / "checkpoint-2").is_dir() and (out / "checkpoint-4").is_dir()
    history = _state(out / "checkpoint-4")["log_history"]
    steps = [h for h in history if "ttrl/majority_ratio" in h]
    assert [h["step"] for h in steps] == [1, 2, 3, 4]
    for key in (
        "ttrl/no_answer_rate",
        "ttrl/label_accuracy",
        "ttrl/reward_accuracy",
        "ttrl/rollout_accuracy",
        "ttrl/maj@8",
        "rewards/ttrl_majority/mean",
    ):
        assert key in steps[0], key
    # The saved model loads back through the ordinary Hub code path, with its card.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(out)
    AutoTokenizer.from_pretrained(out)
    card = (out / "README.md").read_text()
    assert "Test-Time Reinforcement Learning" in card and "n_votes_per_prompt" in card and "aime24" in card

    # Resume from the last checkpoint and go on to step 6.
    run_train(
        "--config",
        str(TINY_RECIPE),
        *_common(tiny_model_path, shared_data, out),
        "--max_steps",
        "6",
        "--resume_from_checkpoint",
        "true",
    )
    history = _state(out / "checkpoint-6")["log_history"]
    assert [h["step"] for h in history if "ttrl/majority_ratio" in h] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_tiny_lora_recipe_saves_an_adapter_that_loads(tiny_model_path, shared_data, tmp_path):
    out = tmp_path / "lora"
    run_train("--config", str(TINY_LORA_RECIPE), *_common(tiny_model_path, shared_data, out), "--max_steps", "2")
    assert (out / "adapter_config.json").is_file()
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(out)
    assert any("lora_" in name for name, _ in model.named_parameters())
    assert "Test-Time Reinforcement Learning" in (out / "README.md").read_text()

    # Publishing (dry run: no network): the evaluation summary lands in the card and the folder.
    from ttrl_trl.push import main as push_main

    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"pass@1": 0.125, "maj@16": 0.25, "dataset": "aime24"}))
    push_main(["--model_dir", str(out), "--hub_model_id", "me/tiny-ttrl", "--eval_summary", str(summary), "--dry_run"])
    card = (out / "README.md").read_text()
    assert card.count("## Test-Time Reinforcement Learning") == 1
    assert "| pass@1 | 0.1250 |" in card and "| maj@16 | 0.2500 |" in card
    assert json.loads((out / "eval_summary.json").read_text())["maj@16"] == 0.25
    AutoPeftModelForCausalLM.from_pretrained(out)


def _main_error(*argv: str) -> str:
    """Run the CLI in-process (no re-import of torch/TRL) and return its error message."""
    from ttrl_trl.train import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code not in (0, None)
    return str(exit_info.value.code)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n_votes_per_prompt", "2"], "n_votes_per_prompt (2) must be >= num_generations (4)"),
        (["--n_votes_per_prompt", "6"], "must be a multiple of num_generations"),
        (["--problem_column", "question_text"], "Column 'question_text'"),
        (["--dataset", "no-such-benchmark"], "Unknown dataset 'no-such-benchmark'"),
    ],
)
def test_bad_input_fails_fast_with_the_field_named(tiny_model_path, shared_data, tmp_path, extra, message):
    out = tmp_path / "bad"
    error = _main_error("--config", str(TINY_RECIPE), *_common(tiny_model_path, shared_data, out), *extra)
    assert message in error
    assert not out.exists()


def test_unknown_recipe_field_is_named(tmp_path, tiny_model_path, shared_data):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY_RECIPE.read_text() + "n_vote_per_prompt: 16\n")
    error = _main_error("--config", str(recipe), *_common(tiny_model_path, shared_data, tmp_path / "o"))
    assert "n_vote_per_prompt" in error


def test_empty_dataset_is_refused(tmp_path, tiny_model_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    error = _main_error("--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path),
                        "--dataset", str(empty), "--output_dir", str(tmp_path / "o"))
    assert "is empty" in error
