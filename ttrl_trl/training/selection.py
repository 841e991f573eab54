"""``ttrl/selection_score``: which checkpoint to keep, and when to stop, without labels.

TTRL runs rise then fall: the majority ratio and the reward keep climbing while the labels
themselves can decay (on the demo, label accuracy 0.8 -> 0.6 after step 90 on an unlucky seed;
URLVR, arXiv 2603.08660, finds that every intrinsic reward "rises then falls"). ``benchmark/pass@1``
would say when, but it needs gold answers. The score is built only from what a run sees without
labels, averaged over the last ``selection_window`` steps (higher is better):

* ``stable_majority`` (the default): majority ratio x (1 - label flip rate), both averaged over the
  window: self-consistency discounted by labels that keep changing (TTRL-Guard's flip rate, arXiv
  2605.19444, as the signal of unreliable labels).
* ``majority_ratio``: the mean majority ratio (the reward TTRL maximises; the naive baseline: it keeps
  rising through a lock-in on wrong answers, so it mostly picks the last step).
* ``anchor_agreement``: the mean of ``ttrl/anchor_agreement``, the share of votes equivalent to their
  prompt's *first* pseudo-label (:meth:`LabelHistory.anchor_agreement`). The first labels come from
  the policy TTRL started from, before any self-reinforcement, and their accuracy is that policy's
  maj@k, well above its pass@1; agreement with them falls when answers drift to new majorities.

None of them can see a wrong majority being reinforced; nothing label-free can. The default was
chosen by ``benchmarks/efficacy.py`` on seeds 100-102 only, by the rule written before those runs
(README, "The efficacy protocol"): smallest mean regret against the best labelled checkpoint.
``majority_ratio`` and ``stable_majority`` tied there (the same checkpoint on every run), a case
the rule did not settle; ``stable_majority`` was taken as the one that also reads the flip rate.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import SaveStrategy

SCORE = "ttrl/selection_score"
Row = Mapping[str, float]


def _mean(rows: Sequence[Row], key: str, default: float | None = None) -> float | None:
    values = [row[key] for row in rows if key in row and row[key] is not None and not math.isnan(row[key])]
    return sum(values) / len(values) if values else default


def _anchor(rows: Sequence[Row]) -> float | None:
    return _mean(rows, "ttrl/anchor_agreement")


def _majority(rows: Sequence[Row]) -> float | None:
    return _mean(rows, "ttrl/majority_ratio")


def _stable(rows: Sequence[Row]) -> float | None:
    ratio = _mean(rows, "ttrl/majority_ratio")
    return None if ratio is None else ratio * (1.0 - _mean(rows, "ttrl/label_flip_rate", 0.0))


SELECTION_RULES: dict[str, Callable[[Sequence[Row]], float | None]] = {
    "anchor_agreement": _anchor,
    "majority_ratio": _majority,
    "stable_majority": _stable,
}
DEFAULT_RULE = "stable_majority"
INPUTS = ("ttrl/anchor_agreement", "ttrl/majority_ratio", "ttrl/label_flip_rate")
"""The logged metrics the rules read (all label-free)."""


def selection_scores(history: Iterable[Row], rule: str = DEFAULT_RULE, window: int = 10) -> dict[int, float]:
    """The score at every logged step of a run's log history (``trainer_state.json``'s ``log_history``).

    Causal: the score at step ``t`` reads only rows up to ``t`` (the last ``window`` that carry the
    rule's inputs), exactly as :class:`SelectionScoreCallback` computes it during training.
    """
    score = SELECTION_RULES[rule]
    recent: deque[Row] = deque(maxlen=window)
    scores: dict[int, float] = {}
    for row in history:
        if any(key in row for key in INPUTS):
            recent.append(row)
            value = score(list(recent))
            if value is not None:
                scores[int(row["step"])] = value
    return scores


class SelectionScoreCallback(TrainerCallback, ExportableState):
    """Logs ``ttrl/selection_score`` every step; keeps the best checkpoint by it and stops a run that collapsed.

    With ``metric_for_best_model: ttrl/selection_score`` and ``save_strategy: best``, transformers'
    own bookkeeping saves a checkpoint whenever the score reaches a new best (``best_metric``,
    ``best_model_checkpoint`` in ``trainer_state.json``). With ``selection_patience: N``, training
    stops once the score has stayed below its best for N steps. The window of recent steps is
    saved with every checkpoint (transformers' stateful callbacks), so a resumed run scores the
    same.
    """

    def __init__(self, window: int = 10, patience: int | None = None, rule: str = DEFAULT_RULE, trainer: Any = None):
        # transformers rebuilds a stateful callback on resume from ``state()['args']`` alone, so ``trainer`` comes
        # last and the trainer hands itself back afterwards (``TTRLTrainer._load_callback_state``).
        self.trainer, self.rule, self.window, self.patience = trainer, rule, window, patience
        self.recent: deque[dict[str, float]] = deque(maxlen=window)
        self.best: float | None = None
        self.since_best = 0

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        logged = self.trainer._metrics["train"]
        row = {key: sum(logged[key]) / len(logged[key]) for key in INPUTS if logged.get(key)}
        if not row:
            return control
        self.recent = deque(self.recent, maxlen=self.window)  # a list after a resume
        self.recent.append(row)
        score = SELECTION_RULES[self.rule](list(self.recent))
        if score is None:
            return control
        logged[SCORE].append(score)
        if self.best is None or score > self.best:
            self.best, self.since_best = score, 0
        else:
            self.since_best += 1
        if (args.metric_for_best_model or "").removeprefix("eval_") == SCORE:
            is_new_best = self.trainer._determine_best_metric({f"eval_{SCORE}": score}, trial=None)
            if args.save_strategy == SaveStrategy.BEST:
                control.should_save = is_new_best
        if self.patience is not None and self.since_best >= self.patience:
            control.should_training_stop = True
            if state.is_world_process_zero:
                print(
                    f"ttrl: stopping at step {state.global_step}: {SCORE} has stayed below its best ({self.best:.4f}) "
                    f"for {self.since_best} steps (selection_patience={self.patience})."
                )
        return control

    def state(self) -> dict:
        return {
            "args": {"window": self.window, "patience": self.patience, "rule": self.rule},
            "attributes": {"recent": list(self.recent), "best": self.best, "since_best": self.since_best},
        }
