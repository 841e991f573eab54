"""The card a user reads on the Hub: written by training, completed by `ttrl_trl.push --dry_run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import cli_error, tiny_config, toy_dataset

from ttrl_trl.data import DEFAULT_SYSTEM_PROMPT, build_prompt
from ttrl_trl.model_card import EXAMPLE_QUESTION, SECTION_MARK
from ttrl_trl.push import main as push_main

HUB_BASE = "Qwen/Qwen2.5-Math-1.5B"


def _trained_folder(tiny_model_path: Path, out: Path, base_name: str) -> Path:
    """What `ttrl_trl.train` leaves for a full fine-tune: weights, training_args.bin, TRL's card plus ours.

    No training step is needed for the card; ``base_name`` stands for where the weights came from.
    """
    from ttrl_trl.training.trainer import TTRLTrainer

    args = tiny_config(out, lr_scheduler_type="constant")
    trainer = TTRLTrainer(model=str(tiny_model_path), args=args, train_dataset=toy_dataset(2, answers=["1", "2"]))
    trainer.model.config._name_or_path = base_name
    trainer.save_model(str(out))
    trainer.create_model_card(model_name="run", dataset_name="aime24")
    return out


@pytest.fixture(scope="module")
def hub_card(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The card of a full fine-tune of a Hub model, after a dry-run push with an evaluation summary."""
    root = tmp_path_factory.mktemp("card")
    folder = _trained_folder(tiny_model_path, root / "run", HUB_BASE)
    summary = root / "summary.json"
    summary.write_text(json.dumps({"pass@1": 0.125, "maj@16": 0.25, "num_problems": 30, "num_samples": 16,
                                   "model": "run", "dataset": "aime24", "split": None, "temperature": 0.6}))  # fmt: skip
    push_main(["--model_dir", str(folder), "--hub_model_id", "me/run", "--eval_summary", str(summary), "--dry_run"])
    return (folder / "README.md").read_text()


def _table_rows(card: str, header: str) -> dict[str, str]:
    """The rows of the markdown table whose header row starts with ``| header |``."""
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |")) + 2
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        name, value = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name] = value
    return rows


def test_card_names_the_hub_base_model_after_push(hub_card: str) -> None:
    assert f"fine-tuned version of [{HUB_BASE}](https://huggingface.co/{HUB_BASE})" in hub_card
    assert _table_rows(hub_card, "setting")["base model"] == HUB_BASE
    assert f"base_model: {HUB_BASE}" in hub_card.split("---")[1]  # the Hub's metadata
    assert 'model="me/run"' in hub_card


def test_card_cites_ttrl_as_ttrl_and_grpo_as_grpo(hub_card: str) -> None:
    ttrl = hub_card.index("Cite TTRL as:")
    grpo = hub_card.index("Cite GRPO as:")
    assert ttrl < hub_card.index("@article{zuo2025ttrl") < grpo < hub_card.index("@article{shao2024deepseekmath")
    assert hub_card.count("shao2024deepseekmath") == 1
    assert "[TTRL: Test-Time Reinforcement Learning](https://huggingface.co/papers/2504.16084)" in hub_card


def test_card_settings_are_plain_and_apart_from_metrics(hub_card: str) -> None:
    section = hub_card[hub_card.index(SECTION_MARK) :]
    assert "SchedulerType" not in section and "None" not in section
    settings = _table_rows(section, "setting")
    assert settings["learning-rate schedule"] == "constant" and settings["loss type"] == "dapo"
    assert _table_rows(section, "metric") == {"pass@1": "0.1250", "maj@16": "0.2500", "num_problems": "30",
                                              "num_samples": "16"}  # fmt: skip
    assert _table_rows(section, "evaluation setting") == {"model": "run", "dataset": "aime24", "temperature": "0.6"}


def test_card_of_a_local_base_model(tiny_model_path: Path, tmp_path: Path) -> None:
    card = (_trained_folder(tiny_model_path, tmp_path / "run", str(tiny_model_path)) / "README.md").read_text()
    assert "[None]" not in card and "huggingface.co/None" not in card
    assert f"the local model `{tiny_model_path}`" in card
    assert "huggingface.co/datasets/aime24" not in card  # a short benchmark name is not a Hub dataset id
    assert _table_rows(card, "setting")["base model"] == str(tiny_model_path)


def _push_error(*argv: str) -> str:
    return cli_error(push_main, argv, "push")


def test_push_offline_fails_with_one_line(tiny_model_path: Path, tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import HfApi

    folder = _trained_folder(tiny_model_path, tmp_path / "run", str(tiny_model_path))

    def offline(*args, **kwargs):
        raise ConnectionError("[Errno -2] Name or service not known")  # what the HTTP client raises offline

    monkeypatch.setattr(HfApi, "create_repo", offline)
    error = _push_error("--model_dir", str(folder), "--hub_model_id", "me/run")
    assert "could not push to 'me/run' (ConnectionError: [Errno -2] Name or service not known)" in error


def test_push_missing_model_dir(tmp_path: Path) -> None:
    error = _push_error("--model_dir", str(tmp_path / "no-such-run"), "--hub_model_id", "me/run")
    assert f"--model_dir '{tmp_path / 'no-such-run'}' does not exist" in error


# ------------------------------------------------------------------ what the card states (no trainer needed)
def _card(tmp_path: Path, run: dict | None = None, log_history: list | None = None, hub_model_id: str | None = None,
          args_class: type | None = None, **overrides) -> str:  # fmt: skip
    from ttrl_trl.model_card import write_model_card

    if args_class is None:
        args = tiny_config(tmp_path, **overrides)
    else:
        from ttrl_trl.tiny import CPU_TRAINING_ARGS

        args = args_class(output_dir=str(tmp_path), num_generations=4, n_votes_per_prompt=8, **CPU_TRAINING_ARGS,
                          **overrides)  # fmt: skip
    run = {"dataset": "aime24", "data_dir": None, "num_problems": 30, "system_prompt": DEFAULT_SYSTEM_PROMPT} | (run or {})
    path = write_model_card(tmp_path, args, base_model=HUB_BASE, hub_model_id=hub_model_id, run=run,
                            log_history=log_history or [])  # fmt: skip
    return path.read_text()


def test_card_states_the_reward_rule_band_and_adaptive_voting(tmp_path: Path) -> None:
    card = _card(tmp_path, vote_reward="soft", min_majority_ratio=0.3, vote_stop_confidence=0.95)
    assert "1 if the answer is math-equivalent" not in card
    assert "Reward (`vote_reward: soft`): the share of the prompt's 8 sampled answers" in card
    assert "Consensus band [0.3, 1.0]: a prompt whose winning answer held less than 30% of its votes got reward 0" in card
    assert "Adaptive voting (`vote_stop_confidence: 0.95`)" in card
    settings = _table_rows(card, "setting")
    assert settings["reward (`vote_reward`)"] == "soft"
    assert settings["consensus band (`min_majority_ratio`, `max_majority_ratio`)"] == "[0.3, 1.0]"
    assert settings["adaptive voting (`vote_stop_confidence`)"] == "0.95"
    plain_card = _card(tmp_path / "plain")
    assert "Reward (`vote_reward: majority`): 1 if the completion's final answer is math-equivalent" in plain_card
    assert "No consensus band" in plain_card and "no adaptive voting" in plain_card


def test_card_reads_new_config_options_generically(tmp_path: Path) -> None:
    """An option another TTRLConfig adds (here `control_reward`) is described without a change to the card."""
    from dataclasses import dataclass, field

    from ttrl_trl.training.config import TTRLConfig

    @dataclass
    class WithLength(TTRLConfig):
        length_reward: str | None = field(default=None, metadata={"help": "A second reward."})

    card = _card(tmp_path, args_class=WithLength, length_reward="linear")
    assert "Other reward settings: `length_reward: linear`." in card
    assert _table_rows(card, "setting")["`length_reward`"] == "linear"


def test_card_states_controls_and_guards(tmp_path: Path) -> None:
    oracle = _card(tmp_path / "o", control_reward="oracle")
    assert "Efficacy control, not TTRL" in oracle and "No ground-truth answer was used as reward" not in oracle
    guarded = _card(tmp_path / "g", low_consensus_threshold=0.5, low_consensus_penalty=0.2, flip_rate_scaling=True)
    assert "below 0.5 got advantage -0.2" in guarded and "Flip-rate-aware scaling" in guarded
    assert "No ground-truth answer was used as reward" in guarded and "Efficacy control" not in guarded


def test_card_is_titled_after_the_model_and_prompts_as_trained(tmp_path: Path) -> None:
    card = _card(tmp_path)
    header, body = card.split("---")[1], card.split("---", 2)[2]
    assert "licence" not in card and "model_name: Qwen2.5-Math-1.5B-TTRL" in header
    assert body.lstrip().startswith("# Qwen2.5-Math-1.5B-TTRL\n") and "time machine" not in card
    messages = json.dumps(build_prompt(EXAMPLE_QUESTION, DEFAULT_SYSTEM_PROMPT)[0])
    assert f"    {messages}," in card and "output = generator(messages, max_new_tokens=12" in card
    procedure = body.split("## Training procedure")[1].split("\n## ")[0]
    assert "This model was trained with TTRL" in procedure and "math-verify" in procedure
    assert "# me/ttrl-aime24\n" in _card(tmp_path / "hub", hub_model_id="me/ttrl-aime24")
    alone = _card(tmp_path / "alone", run={"system_prompt": None})
    assert '"role": "system"' not in alone and "the question alone" in alone


def test_card_names_the_data_trained_on(tmp_path: Path) -> None:
    hub = _card(tmp_path / "hub")
    assert "datasets:\n- HuggingFaceH4/aime_2024" in hub.split("---")[1]
    assert "[HuggingFaceH4/aime_2024](https://huggingface.co/datasets/HuggingFaceH4/aime_2024)" in hub
    local = _card(tmp_path / "local", run={"dataset": "data/my_questions.jsonl", "max_problems": 8, "num_problems": 8})
    trained_on = _table_rows(local, "setting")["trained on (unlabelled questions)"]
    assert trained_on == "the local file `data/my_questions.jsonl`, its first 8 questions"
    assert "datasets:" not in local.split("---")[1]


def test_card_shows_the_benchmark_logged_during_training(tmp_path: Path) -> None:
    history = [{"step": s, "loss": 0.1} for s in range(1, 5)] + [
        {"step": 2, "benchmark/pass@1": 0.25, "benchmark/maj@16": 0.5, "benchmark/pass@16": 0.75},
        {"step": 4, "benchmark/pass@1": 0.3125, "benchmark/maj@16": 0.5, "benchmark/pass@16": 0.8},
    ]
    card = _card(tmp_path, log_history=history, benchmark_eval_steps=2)
    section = card.split("### Benchmark during training")[1]
    assert "On the training questions, 16 samples per problem at temperature 0.6, top-p 0.95 (2 evaluations" in section
    assert "| step | pass@1 | maj@16 | pass@16 |" in section and "| 4 | 0.3125 | 0.5000 | 0.8000 |" in section
    assert "### Benchmark during training" not in _card(tmp_path / "none")


def test_push_names_the_data_trained_on_with_or_without_an_evaluation(tiny_model_path: Path, tmp_path: Path) -> None:
    from ttrl_trl.model_card import save_run_record

    folder = _trained_folder(tiny_model_path, tmp_path / "run", HUB_BASE)
    save_run_record(folder, {"base_model": HUB_BASE, "dataset": "amc", "num_problems": 83})
    push_main(["--model_dir", str(folder), "--hub_model_id", "me/run", "--dry_run"])
    card = (folder / "README.md").read_text()
    assert "unknown" not in card and "`amc` ([AI-MO/aimo-validation-amc]" in card
    summary = tmp_path / "other.json"
    summary.write_text(json.dumps({"pass@1": 0.5, "dataset": "math500"}))
    push_main(["--model_dir", str(folder), "--hub_model_id", "me/run", "--eval_summary", str(summary), "--dry_run"])
    card = (folder / "README.md").read_text()
    assert "`amc` ([AI-MO/aimo-validation-amc]" in _table_rows(card, "setting")["trained on (unlabelled questions)"]
    assert _table_rows(card, "evaluation setting")["dataset"] == "math500"
    assert "questions of `math500`" not in card and "math500" not in card.split("### Evaluation")[0]
