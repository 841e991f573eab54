"""Shared fixtures: offline mode, the tiny model, the real benchmark files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# No network in CI: fail fast instead of retrying Hub requests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

# Tiny models: one thread is faster than two (no sync overhead) and keeps runs reproducible.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TTRL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: the real AIME 2024 / AMC / MATH-500 files (never copied into the repo)."""
    if not (SHARED_DATA / "aime24.json").is_file():
        pytest.fail(f"benchmark files not found in {SHARED_DATA}; set TTRL_SHARED_DATA to the folder holding them")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 model + character tokenizer, saved once per test session."""
    from ttrl_trl.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


ANSWER_CHOICES = {"1/2": 0.25, "0.5": 0.25, "3": 0.3, "7": 0.2}
"""What the answering model says: by exact string "3" leads, by math equivalence 1/2 = 0.5 does."""


@pytest.fixture(scope="session")
def answering_model_path(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model taught to answer ``Q<i>`` with a boxed answer drawn from ``ANSWER_CHOICES``."""
    from helpers import teach_boxed_answers

    return teach_boxed_answers(tiny_model_path, tmp_path_factory.mktemp("answering-model"), ANSWER_CHOICES)
