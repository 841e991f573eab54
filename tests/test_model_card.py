"""The card a user reads on the Hub: written by training, completed by `ttrl_trl.push --dry_run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import cli_error, tiny_config, toy_dataset

from ttrl_trl.model_card import SECTION_MARK
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
