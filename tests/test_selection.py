"""``ttrl/selection_score``: label-free, causal, logged every step, keeps the best checkpoint, stops a collapse."""

from __future__ import annotations

import json

import pytest
import trl
from helpers import ScriptedGenerator, tiny_config, toy_dataset
from transformers import AutoTokenizer

from ttrl_trl.training.selection import SCORE, SELECTION_RULES, selection_scores
from ttrl_trl.training.trainer import TTRLTrainer

HISTORY = [
    {"step": 1, "ttrl/majority_ratio": 0.5, "ttrl/anchor_agreement": 0.5},
    {"step": 2, "ttrl/majority_ratio": 0.7, "ttrl/anchor_agreement": 0.7, "ttrl/label_flip_rate": 0.5},
    {"step": 2, "benchmark/pass@1": 0.4},  # a row without the inputs is skipped
    {"step": 3, "ttrl/majority_ratio": 0.9, "ttrl/anchor_agreement": 0.3, "ttrl/label_flip_rate": 0.0},
]


def test_scores_are_trailing_means_of_label_free_metrics():
    assert selection_scores(HISTORY, "anchor_agreement", window=2) == pytest.approx({1: 0.5, 2: 0.6, 3: 0.5})
    assert selection_scores(HISTORY, "majority_ratio", window=1) == pytest.approx({1: 0.5, 2: 0.7, 3: 0.9})
    # stable: mean ratio x (1 - mean flip rate); a window with no flip rate yet counts 0 flips
    assert selection_scores(HISTORY, "stable_majority", window=2) == pytest.approx({1: 0.5, 2: 0.6 * 0.5, 3: 0.8 * 0.75})
    assert set(SELECTION_RULES) == {"anchor_agreement", "majority_ratio", "stable_majority"}


def test_scores_are_causal():
    full = selection_scores(HISTORY, window=3)
    for cut in range(1, len(HISTORY) + 1):
        partial = selection_scores(HISTORY[:cut], window=3)
        assert all(full[step] == value for step, value in partial.items())


@pytest.fixture
def trainer_for(monkeypatch, tiny_model_path, tmp_path):
    def make(**overrides):
        tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
        generator = ScriptedGenerator(tokenizer, seed=1, choices=("1", "2", "3", None))
        monkeypatch.setattr(trl.GRPOTrainer, "_generate_single_turn", lambda self, *a, **k: generator(self, *a, **k))
        args = tiny_config(tmp_path / "out", **overrides)
        return TTRLTrainer(model=str(tiny_model_path), args=args, train_dataset=toy_dataset(4), processing_class=tokenizer)

    return make


def test_logged_every_step_equal_to_the_offline_score_and_best_checkpoint_kept(trainer_for, tmp_path):
    trainer = trainer_for(
        max_steps=6, metric_for_best_model=SCORE, save_strategy="best", selection_window=2, save_total_limit=None
    )
    trainer.train()
    history = trainer.state.log_history
    logged = {row["step"]: row[SCORE] for row in history if SCORE in row}
    assert sorted(logged) == [1, 2, 3, 4, 5, 6]
    assert logged == pytest.approx(selection_scores(history, window=2))
    best_step = max(logged, key=lambda s: (logged[s], -s))
    assert trainer.state.best_metric == pytest.approx(logged[best_step])
    assert trainer.state.best_global_step == best_step
    saved = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "out").glob("checkpoint-*"))
    assert best_step in saved and all(logged[s] > max((logged[t] for t in logged if t < s), default=-1) for s in saved)
    state = json.loads((tmp_path / "out" / f"checkpoint-{saved[-1]}" / "trainer_state.json").read_text())
    assert "SelectionScoreCallback" in state["stateful_callbacks"]


def test_patience_stops_a_run_whose_score_stopped_improving(trainer_for):
    trainer = trainer_for(max_steps=30, selection_window=1, selection_patience=2)
    trainer.train()
    logged = [row[SCORE] for row in trainer.state.log_history if SCORE in row]
    assert trainer.state.global_step < 30
    best = logged.index(max(logged))
    assert len(logged) == best + 1 + 2  # stopped exactly `patience` steps after the best
