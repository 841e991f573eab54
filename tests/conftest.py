"""Shared fixtures: offline mode, the tiny model, the real benchmark files (shipped in the package)."""

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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real AIME 2024 / AMC / MATH-500 files every test shares: the official TTRL copies the package
    ships (``ttrl_trl/benchmark_data``), so a fresh clone tests with nothing beside it."""
    from ttrl_trl.data import BENCHMARK_DATA_DIR

    return BENCHMARK_DATA_DIR


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
