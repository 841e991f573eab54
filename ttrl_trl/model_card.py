"""The model card of a TTRL model: TRL's card, made right for TTRL, plus a TTRL section.

TRL's card names the trainer and the framework versions; a TTRL model also needs what it was
adapted on (TTRL trains on the test questions themselves), with which vote and trust-region
settings, and how it scored. Three things in TRL's card are wrong for us and fixed here: it
cites the trainer's paper as the method's (TTRL is cited as TTRL, GRPO as GRPO), it links a
local base model as ``[None](https://huggingface.co/None)``, and it keeps the base model only
for Hub ids. The base model is recorded in the card's metadata (``ttrl_base_model``) so that
``ttrl_trl.push`` can name it later, for full fine-tunes as well as adapters.
"""

from __future__ import annotations

import json
import re
import textwrap
from enum import Enum
from pathlib import Path
from typing import Any

EVAL_SUMMARY_FILE = "eval_summary.json"
SECTION_MARK = "## Test-Time Reinforcement Learning"
BASE_MODEL_KEY = "ttrl_base_model"

TTRL_PAPER = {
    "title": "TTRL: Test-Time Reinforcement Learning",
    "id": "2504.16084",
    # docstyle-ignore
    "citation": textwrap.dedent("""\
        @article{zuo2025ttrl,
            title        = {{TTRL: Test-Time Reinforcement Learning}},
            author       = {Yuxin Zuo and Kaiyan Zhang and Li Sheng and Shang Qu and Ganqu Cui and Xuekai Zhu and Haozhan Li and Yuchen Zhang and Xinwei Long and Ermo Hua and others},
            journal      = {arXiv preprint arXiv:2504.16084},
            year         = 2025,
        }"""),
}
"""The paper TRL's card template cites as the trainer's (``Cite TTRL as:``)."""

# Settings of an evaluation summary that are metrics (the rest are the run's settings).
METRIC_PREFIXES = ("pass@", "maj@")
METRIC_KEYS = ("no_answer_rate", "num_problems", "num_samples")


def plain(value: Any) -> Any:
    """A setting as a reader writes it: ``constant``, not ``SchedulerType.CONSTANT``."""
    return value.value if isinstance(value, Enum) else value


def _grpo_citation() -> str:
    from trl import GRPOTrainer

    return GRPOTrainer._paper["citation"]


def point_quick_start(text: str, model_id: str) -> str:
    """The card's Quick start loads ``model_id`` (TRL writes ``model="None"`` when no Hub id is set)."""
    return re.sub(
        r'pipeline\("text-generation", model="[^"]*"', f'pipeline("text-generation", model="{model_id}"', text
    )


def fix_trl_card(output_dir: str | Path, base_model: str | None, hub_model_id: str | None = None) -> Path:
    """Make TRL's freshly written ``README.md`` right for a TTRL model (see the module docstring)."""
    from huggingface_hub import ModelCard

    path = Path(output_dir) / "README.md"
    card = ModelCard.load(path)
    text = card.text
    if base_model and Path(base_model).expanduser().is_dir():
        text = text.replace("[None](https://huggingface.co/None)", f"the local model `{base_model}`")
    elif not base_model:
        text = text.replace("[None](https://huggingface.co/None)", "an unrecorded base model")
    dataset = card.data.datasets
    if isinstance(dataset, str) and "/" not in dataset:  # a benchmark's short name or a file: not a Hub dataset id
        text = text.replace(
            f"[{dataset}](https://huggingface.co/datasets/{dataset}) dataset", f"`{dataset}` questions"
        )
        card.data.datasets = None
    text = text.replace("Cite TRL as:", f"Cite GRPO as:\n\n```bibtex\n{_grpo_citation()}\n```\n\nCite TRL as:", 1)
    card.text = point_quick_start(text, hub_model_id or str(output_dir))
    if base_model:
        setattr(card.data, BASE_MODEL_KEY, base_model)
    card.save(path)
    return path


def recorded_base_model(model_dir: str | Path) -> str | None:
    """The base model a trained folder came from: the card's metadata, else the adapter's config."""
    model_dir = Path(model_dir)
    card_path = model_dir / "README.md"
    if card_path.is_file():
        from huggingface_hub import ModelCard

        data = ModelCard.load(card_path).data.to_dict()
        if data.get(BASE_MODEL_KEY) or data.get("base_model"):
            return data.get(BASE_MODEL_KEY) or data.get("base_model")
    adapter = model_dir / "adapter_config.json"
    if adapter.is_file():
        return json.loads(adapter.read_text()).get("base_model_name_or_path")
    return None


def _table(header: tuple[str, str], rows: list[tuple[str, Any]], digits: int | None = None) -> list[str]:
    """A two-column markdown table; floats rounded to ``digits`` (metrics) or written as given (settings)."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    for name, value in rows:
        value = plain(value)
        shown = f"{value:.{digits}f}" if digits is not None and isinstance(value, float) else value
        lines.append(f"| {name} | {shown} |")
    return lines


def _is_metric(key: str) -> bool:
    return key.startswith(METRIC_PREFIXES) or key in METRIC_KEYS


def ttrl_card_section(
    args: Any, base_model: str | None, dataset_name: str | None, eval_summary: dict[str, Any] | None
) -> str:
    """Markdown for the TTRL settings, and the evaluation's metrics and settings in two tables."""
    rows = [
        ("base model", base_model or "unknown"),
        ("dataset (unlabelled, trained on its questions)", dataset_name or "unknown"),
        ("completions voted per prompt (`n_votes_per_prompt`)", args.n_votes_per_prompt),
        ("completions trained per prompt (`num_generations`)", args.num_generations),
        ("reward", "1 if the answer is math-equivalent to the majority-voted answer, else 0 (math-verify)"),
        ("learning rate", args.learning_rate),
        ("learning-rate schedule", plain(args.lr_scheduler_type)),
        ("KL coefficient (`beta`)", args.beta),
        ("loss type", plain(args.loss_type)),
        ("temperature", args.temperature),
        ("max completion length", args.max_completion_length),
        ("TRM `trm_delta_max`", args.trm_delta_max if args.trm_delta_max is not None else "off"),
        ("TRM `trm_delta_avg`", args.trm_delta_avg if args.trm_delta_avg is not None else "off"),
    ]
    lines = [SECTION_MARK, "", *_table(("setting", "value"), rows)]
    if eval_summary:
        metrics = [(k, v) for k, v in eval_summary.items() if _is_metric(k)]
        settings = [(k, v) for k, v in eval_summary.items() if not _is_metric(k) and v is not None]
        lines += ["", "### Evaluation", "", *_table(("metric", "value"), metrics, digits=4)]
        if settings:
            lines += ["", "Evaluated with:", "", *_table(("evaluation setting", "value"), settings)]
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
