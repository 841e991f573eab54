"""The TTRL section of the model card that TRL writes next to every saved model.

TRL's card names the trainer and the framework versions; a TTRL model also needs what it was
adapted on (TTRL trains on the test questions themselves), with which vote and trust-region
settings, and how it scored. The section is appended to TRL's README.md so the push to the Hub
carries it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVAL_SUMMARY_FILE = "eval_summary.json"
SECTION_MARK = "## Test-Time Reinforcement Learning"


def ttrl_card_section(
    args: Any, base_model: str | None, dataset_name: str | None, eval_summary: dict[str, Any] | None
) -> str:
    """Markdown for the TTRL settings (and the evaluation summary, when one is given)."""
    rows = [
        ("base model", base_model or "unknown"),
        ("dataset (unlabelled, trained on its questions)", dataset_name or "unknown"),
        ("completions voted per prompt (`n_votes_per_prompt`)", args.n_votes_per_prompt),
        ("completions trained per prompt (`num_generations`)", args.num_generations),
        ("reward", "1 if the answer is math-equivalent to the majority-voted answer, else 0 (math-verify)"),
        ("learning rate / schedule", f"{args.learning_rate} / {args.lr_scheduler_type}"),
        ("KL coefficient (`beta`)", args.beta),
        ("loss type", args.loss_type),
        ("temperature", args.temperature),
        ("max completion length", args.max_completion_length),
        ("TRM `trm_delta_max`", args.trm_delta_max if args.trm_delta_max is not None else "off"),
        ("TRM `trm_delta_avg`", args.trm_delta_avg if args.trm_delta_avg is not None else "off"),
    ]
    lines = [SECTION_MARK, "", "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if eval_summary:
        lines += ["", "### Evaluation", "", "| metric | value |", "|---|---|"]
        for key, value in eval_summary.items():
            if isinstance(value, float):
                value = f"{value:.4f}"
            lines.append(f"| {key} | {value} |")
    lines += [
        "",
        "Trained with ttrl-trl (TTRL, arXiv:2504.16084) on TRL's GRPOTrainer. "
        "No ground-truth answer was used as reward.",
        "",
    ]
    return "\n".join(lines)


def write_ttrl_model_card(args: Any, base_model: str | None = None, dataset_name: str | None = None) -> Path:
    """Append (or refresh) the TTRL section in ``<output_dir>/README.md``.

    An evaluation summary written by ``ttrl-eval`` and copied to ``<output_dir>/eval_summary.json``
    is included, so the Hub page shows the before/after figures.
    """
    output_dir = Path(args.output_dir)
    card = output_dir / "README.md"
    text = card.read_text() if card.exists() else ""
    trl_card = text.split(SECTION_MARK)[0].rstrip()  # drop an earlier TTRL section, keep TRL's card
    prefix = trl_card + "\n\n" if trl_card else ""
    summary_path = output_dir / EVAL_SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(prefix + ttrl_card_section(args, base_model, dataset_name, summary))
    return card
