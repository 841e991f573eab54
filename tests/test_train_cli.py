"""The user's command, end to end: `python -m ttrl_trl.train --config recipes/tiny/...` on a CPU."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path

import pytest
from helpers import cli_error
from transformers import TrainerCallback

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
    proc = run_train("--config", str(TINY_RECIPE), *_common(tiny_model_path, shared_data, out))
    assert (out / "checkpoint-2").is_dir() and (out / "checkpoint-4").is_dir()
    assert "is_gradient_checkpointing" not in proc.stderr  # TRL's known FutureWarning, filtered at the entry point
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
    proc = run_train(
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
    assert f"resuming from {out / 'checkpoint-4'} (step 4)" in proc.stdout and "missing keys" not in proc.stderr
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]  # save_total_limit


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
    """Run the CLI in-process (no re-import of torch/TRL); return its one-line error (exit code 2)."""
    from ttrl_trl.train import main

    return cli_error(main, argv, "train")


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


class _TrainerReached(Exception):
    """Raised by the stand-in trainer: everything before the model load has run."""


@pytest.fixture
def trainer_inputs(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Replace TTRLTrainer with a recorder, so a test sees what training would get without training."""
    import ttrl_trl.training.trainer

    seen: dict = {}

    def record(**kwargs):
        seen.update(kwargs)
        raise _TrainerReached

    monkeypatch.setattr(ttrl_trl.training.trainer, "TTRLTrainer", record)
    return seen


def _train_until_model_load(*argv: str) -> str:
    """Run the CLI in-process up to the trainer; return what it printed on stderr."""
    from ttrl_trl.train import main

    stderr = io.StringIO()
    with redirect_stderr(stderr), pytest.raises(_TrainerReached):
        main(list(argv))
    return stderr.getvalue()


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ground_truth_column_names_the_gold_column(tmp_path, tiny_model_path, trainer_inputs):
    data = _write_jsonl(tmp_path / "my.jsonl", [{"question": "1+1?", "final": "2"}, {"question": "2+2?", "final": "4"}])
    stderr = _train_until_model_load(
        "--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path), "--dataset", str(data),
        "--output_dir", str(tmp_path / "o"), "--ground_truth_column", "final",
    )  # fmt: skip
    dataset, args = trainer_inputs["train_dataset"], trainer_inputs["args"]
    assert dataset["answer"] == ["2", "4"]  # the trainer logs accuracy against these
    assert args.ground_truth_column == "answer" and "warning" not in stderr


def test_answer_and_ground_truth_column_must_agree(tmp_path, tiny_model_path):
    data = _write_jsonl(tmp_path / "my.jsonl", [{"question": "1+1?", "final": "2", "other": "3"}])
    error = _main_error(
        "--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path), "--dataset", str(data),
        "--output_dir", str(tmp_path / "o"), "--ground_truth_column", "final", "--answer_column", "other",
    )  # fmt: skip
    assert "--answer_column 'other'" in error and "--ground_truth_column 'final'" in error


def test_no_gold_column_warns_and_trains(tmp_path, tiny_model_path, trainer_inputs):
    data = _write_jsonl(tmp_path / "my.jsonl", [{"question": "1+1?", "final": "2"}])
    stderr = _train_until_model_load(
        "--config", str(TINY_RECIPE), "--model_name_or_path", str(tiny_model_path), "--dataset", str(data),
        "--output_dir", str(tmp_path / "o"),
    )  # fmt: skip
    assert "answer" not in trainer_inputs["train_dataset"].column_names
    assert "no gold-answer column" in stderr and "--ground_truth_column" in stderr


@pytest.mark.parametrize("option", ["none", "None", ""])
def test_system_prompt_none_sends_the_question_alone(tmp_path, tiny_model_path, shared_data, trainer_inputs, option):
    _train_until_model_load(
        "--config", str(TINY_RECIPE), *_common(tiny_model_path, shared_data, tmp_path / "o"), "--system_prompt", option
    )
    prompt = trainer_inputs["train_dataset"][0]["prompt"]
    assert [m["role"] for m in prompt] == ["user"]


def test_short_help_shows_config_and_ttrl_options_first(capsys):
    from ttrl_trl.train import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert len(lines) < 60
    assert text.index("--config") < text.index("--n_votes_per_prompt") < text.index("--learning_rate")
    for option in ("--trm_delta_max", "--trm_delta_avg", "--ground_truth_column", "--system_prompt"):
        assert option in text
    assert "--help_all" in lines[-1]
    # Every option shows its default, ours and TRL's (TRL's help cut to its first sentence).
    line = {row.split()[0]: row for row in lines if row.startswith("  --")}
    assert line["--n_votes_per_prompt"].endswith("(default: 64)") and line["--dataset"].endswith("(default: aime24)")
    assert line["--vote_reward"].endswith("(default: majority)") and line["--learning_rate"].endswith("(default: 1e-06)")
    assert line["--loss_type"].endswith("(default: dapo)") and len(line["--loss_type"]) < 120
    assert all("(default: " in row for row in line.values() if not row.startswith("  --config"))
    assert "through ttrl_trl.push" in line["--push_to_hub"]  # not TRL's "every time the model is saved"


def test_evaluate_names_itself_as_it_is_run(capsys):
    from ttrl_trl.evaluate import main as eval_main

    with pytest.raises(SystemExit):
        eval_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m ttrl_trl.evaluate ")
    error = cli_error(eval_main, ["--model_name_or_path", "x", "--num_smaples", "4"], "eval")
    assert "`python -m ttrl_trl.evaluate --help` lists the options" in error


def test_unknown_field_suggests_the_closest(tmp_path, tiny_model_path, shared_data):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(TINY_RECIPE.read_text() + "trm_delta_mx: 2.0\n")
    error = _main_error("--config", str(recipe), *_common(tiny_model_path, shared_data, tmp_path / "o"))
    assert "unknown field 'trm_delta_mx' in the recipe (did you mean 'trm_delta_max'?)" in error
    assert "fail_with_unknown_args" not in error
    error = _main_error("--config", str(TINY_RECIPE), "--lerning_rate", "1e-5")
    assert "unknown field 'lerning_rate' in the command line (did you mean 'learning_rate'?)" in error


class _CtrlCAt(TrainerCallback):
    """Sends this process a real SIGINT (what Ctrl-C does) at the end of a step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.slow
def test_ctrl_c_then_resume_then_push_offline(tiny_model_path, shared_data, tmp_path, monkeypatch, capfd):
    """Ctrl-C: one line naming the last checkpoint, exit 130, no card or model in the folder. Resuming says from
    where (no false "missing keys" for the tied lm_head). The push at the end is ttrl_trl.push's: offline, one
    line and exit 2, after the model and its TTRL card are saved."""
    import ttrl_trl.training.trainer as trainer_module
    from ttrl_trl.train import main

    out = tmp_path / "run"
    small = [*_common(tiny_model_path, shared_data, out), "--max_problems", "2", "--max_completion_length", "8",
             "--save_steps", "1", "--max_steps", "3", "--vote_reward", "soft", "--min_majority_ratio", "0.3"]  # fmt: skip

    class InterruptedAtStep2(trainer_module.TTRLTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(_CtrlCAt(2))

    with monkeypatch.context() as patch:
        patch.setattr(trainer_module, "TTRLTrainer", InterruptedAtStep2)
        try:
            with pytest.raises(SystemExit) as exit_info:
                main(["--config", str(TINY_RECIPE), *small])
        except KeyboardInterrupt:
            pytest.fail("Ctrl-C escaped the command as a KeyboardInterrupt (a traceback for the user)")
    assert exit_info.value.code == 130
    err = capfd.readouterr().err
    assert "Traceback" not in err
    (line,) = [row for row in err.splitlines() if row.startswith("ttrl-train")]
    assert line == (f"ttrl-train: interrupted at step 2; the last checkpoint is {out / 'checkpoint-1'} (step 1). "
                    f"Resume with the same command and `--resume_from_checkpoint true`.")  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint-1"]  # no card, no half a model

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(TINY_RECIPE), *small, "--resume_from_checkpoint", "true",
              "--push_to_hub", "--hub_model_id", "me/tiny-ttrl"])  # fmt: skip
    assert exit_info.value.code == 2
    captured = capfd.readouterr()
    assert f"resuming from {out / 'checkpoint-1'} (step 1)" in captured.out
    assert "missing keys" not in captured.err and "Traceback" not in captured.err
    (line,) = [row for row in captured.err.splitlines() if row.startswith("ttrl-train")]
    assert line.startswith("ttrl-train: error: could not push to 'me/tiny-ttrl' (")
    assert f"python -m ttrl_trl.push --model_dir {out} --hub_model_id me/tiny-ttrl" in line
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out)  # saved before the push was tried
    card = (out / "README.md").read_text()
    assert card.split("---", 2)[2].lstrip().startswith("# me/tiny-ttrl\n") and 'model="me/tiny-ttrl"' in card
    assert "Reward (`vote_reward: soft`)" in card and "Consensus band [0.3, 1.0]" in card
    assert json.loads((out / "ttrl_run.json").read_text())["num_problems"] == 2
