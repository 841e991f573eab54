"""How a benchmark is sampled, and the one set of checks on it, shared by ``ttrl-eval`` (``EvalConfig``) and
the benchmark evaluation during training (``TTRLConfig``'s ``benchmark_eval_*`` fields).

No imports beyond the standard library: ``TTRLConfig`` runs these checks when it is built.
"""

from __future__ import annotations

from typing import Any, Protocol


class SamplingSettings(Protocol):
    """What a sampler reads: ``EvalConfig`` and the training callback's ``SampleSettings`` both have it."""

    num_samples: int
    temperature: float
    top_p: float
    max_new_tokens: int
    batch_size: int


def sampling_error(settings: Any, prefix: str = "") -> str | None:
    """The first impossible sampling setting of ``settings``, as one line naming the field, else None.

    Fields are read as ``prefix + name`` (``num_samples``, ``temperature``, ``top_p``, ``max_new_tokens``,
    ``batch_size``, ``max_problems``), so ``EvalConfig`` (no prefix) and ``TTRLConfig``
    (``benchmark_eval_``) get the same rules and messages that name their own fields.
    """
    k, temperature, top_p, max_new_tokens, batch_size, max_problems = (
        getattr(settings, prefix + name)
        for name in ("num_samples", "temperature", "top_p", "max_new_tokens", "batch_size", "max_problems")
    )
    checks = [
        (k >= 1, f"{prefix}num_samples={k}: at least one sample per problem is needed (the paper: 16)."),
        (temperature >= 0, f"{prefix}temperature={temperature} is negative; use 0 (greedy) or e.g. 0.6 (the paper)."),
        (temperature > 0 or k == 1, f"{prefix}temperature=0 is greedy decoding, so all {prefix}num_samples={k} "
         f"samples would be identical; set {prefix}num_samples to 1 for greedy, or a temperature > 0 to sample."),
        (0 < top_p <= 1, f"{prefix}top_p={top_p} must be in (0, 1]; the paper uses 0.95."),
        (max_new_tokens >= 1, f"{prefix}max_new_tokens={max_new_tokens} must be >= 1 (the paper: 3072)."),
        (batch_size >= 1, f"{prefix}batch_size={batch_size} must be >= 1."),
        (max_problems is None or max_problems >= 1,
         f"{prefix}max_problems={max_problems} must be >= 1, or left unset to evaluate every problem."),
    ]  # fmt: skip
    return next((message for ok, message in checks if not ok), None)
