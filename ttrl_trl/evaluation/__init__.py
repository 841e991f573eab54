"""Evaluation of a model (or LoRA adapter) on a math benchmark, one module per job.

``errors`` (EvalConfigError), ``sampling`` (the sampling checks, shared with training's benchmark
evaluation), ``config`` (EvalConfig and its checks), ``model_source`` (model or adapter, backend choice),
``generation`` (shared by the backends), ``transformers_backend`` and ``vllm_backend``, ``scoring``,
``resume`` (the partial file), ``outputs``, ``compare`` (the printed tables), ``run`` (:func:`evaluate`,
the backend's loading) and ``cli``. ``ttrl_trl.evaluate`` is the public entry point.

The names below are imported on first use, so that importing one small module of this package
(``TTRLConfig`` imports ``sampling``) does not import the whole evaluation.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "EvalConfig": "ttrl_trl.evaluation.config",
    "validate_config": "ttrl_trl.evaluation.config",
    "EvalConfigError": "ttrl_trl.evaluation.errors",
    "evaluate": "ttrl_trl.evaluation.run",
}

__all__ = ["EvalConfig", "EvalConfigError", "evaluate", "validate_config"]

if TYPE_CHECKING:
    from ttrl_trl.evaluation.config import EvalConfig, validate_config
    from ttrl_trl.evaluation.errors import EvalConfigError
    from ttrl_trl.evaluation.run import evaluate


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ttrl_trl.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
