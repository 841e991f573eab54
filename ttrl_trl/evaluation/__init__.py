"""Evaluation of a model (or LoRA adapter) on a math benchmark, one module per job.

``config`` (EvalConfig and its checks), ``model_source`` (model or adapter, backend choice),
``generation`` (shared by the backends), ``transformers_backend`` and ``vllm_backend``,
``scoring``, ``resume`` (the partial file), ``outputs``, ``compare`` (the printed tables),
``run`` (:func:`evaluate`) and ``cli``. ``ttrl_trl.evaluate`` is the public entry point.
"""

from ttrl_trl.evaluation.config import EvalConfig, EvalConfigError, validate_config
from ttrl_trl.evaluation.run import evaluate

__all__ = ["EvalConfig", "EvalConfigError", "evaluate", "validate_config"]
