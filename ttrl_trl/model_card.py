"""The model card of a TTRL model: what it is, how to prompt it, how it was trained, how it scored.

Written whole, from the run's own records, every time (by training, and again by ``ttrl_trl.push``):

* the training arguments (``training_args.bin`` or the trainer's): the reward rule, its consensus
  band, adaptive voting and every other option :class:`~ttrl_trl.training.config.TTRLConfig` adds to
  TRL's ``GRPOConfig`` (read generically, so a new option shows without a change here);
* ``ttrl_run.json`` (:data:`RUN_FILE`, written by ``ttrl_trl.train``): the data actually trained on,
  the system prompt and the base model;
* ``trainer_state.json``: the ``benchmark/*`` figures logged during training;
* ``eval_summary.json`` (:data:`EVAL_SUMMARY_FILE`, copied by ``ttrl_trl.push``): an evaluation.

The card is titled after the model (its Hub id, else the base model + "TTRL"), its quick start sends
the prompt the model was trained with (:func:`ttrl_trl.data.build_prompt`), it cites TTRL as the
method, GRPO as GRPO and TRL as TRL, and the base model is kept in the metadata
(``ttrl_base_model``, local folders included) so that ``ttrl_trl.push`` can name it later.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ttrl_trl.paths import looks_local

EVAL_SUMMARY_FILE = "eval_summary.json"
RUN_FILE = "ttrl_run.json"
"""What ``ttrl_trl.train`` records next to the weights: the data and prompt trained on, the base model."""
SECTION_MARK = "## Test-Time Reinforcement Learning"
BASE_MODEL_KEY = "ttrl_base_model"
EXAMPLE_QUESTION = "What is the sum of all positive divisors of 36?"

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
# docstyle-ignore
TRL_CITATION = textwrap.dedent("""\
    @software{vonwerra2020trl,
      title   = {{TRL: Transformers Reinforcement Learning}},
      author  = {von Werra, Leandro and Belkada, Younes and Tunstall, Lewis and Beeching, Edward and Thrush, Tristan and Lambert, Nathan and Huang, Shengyi and Rasul, Kashif and Gallouédec, Quentin},
      license = {Apache-2.0},
      url     = {https://github.com/huggingface/trl},
      year    = {2020}
    }""")

# Settings of an evaluation summary that are metrics (the rest are the run's settings).
METRIC_PREFIXES = ("pass@", "maj@")
METRIC_KEYS = ("no_answer_rate", "num_problems", "num_samples")

# The per-vote reward rules (``TTRLConfig.vote_reward``, ttrl_trl.vote.rewards), in words; {n} is the vote's size.
REWARD_RULES = {
    "majority": "1 if the completion's final answer is math-equivalent (math-verify) to the majority-voted answer of "
    "the prompt's {n} sampled answers, else 0 (TTRL)",
    "soft": "the share of the prompt's {n} sampled answers that are math-equivalent (math-verify) to the "
    "completion's own answer, 0 without an answer (EMPO's semantic-cluster reward)",
}
# Reward fields the sentences below already describe; any other field named *reward* or *guard* is listed.
DESCRIBED_REWARD_FIELDS = (
    "vote_reward", "min_majority_ratio", "max_majority_ratio", "control_reward", "low_consensus_threshold",
    "low_consensus_penalty", "flip_rate_scaling",
)  # fmt: skip


def plain(value: Any) -> Any:
    """A setting as a reader writes it: ``constant``, not ``SchedulerType.CONSTANT``; ``unset``, not None."""
    if isinstance(value, Enum):
        return value.value
    return "unset" if value is None else value


def _grpo_citation() -> str:
    from trl import GRPOTrainer

    return GRPOTrainer._paper["citation"]


# ------------------------------------------------------------------------------------------ records
def save_run_record(output_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write :data:`RUN_FILE`: what the card and ``ttrl_trl.push`` need that training_args.bin lacks."""
    path = Path(output_dir) / RUN_FILE
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def load_run_record(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / RUN_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_log_history(model_dir: str | Path) -> list[dict[str, Any]]:
    """The run's log (``trainer_state.json`` beside the weights, else the newest checkpoint's)."""
    model_dir = Path(model_dir)
    states = [model_dir / "trainer_state.json", *model_dir.glob("checkpoint-*/trainer_state.json")]
    states = [p for p in states if p.is_file()]
    if not states:
        return []
    newest = max(states, key=lambda p: json.loads(p.read_text()).get("global_step", 0))
    return list(json.loads(newest.read_text()).get("log_history", []))


def recorded_base_model(model_dir: str | Path) -> str | None:
    """The base model a trained folder came from: the run record, the card's metadata, else the adapter's config."""
    model_dir = Path(model_dir)
    if load_run_record(model_dir).get("base_model"):
        return load_run_record(model_dir)["base_model"]
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


# ------------------------------------------------------------------------------------------ what the card says
def ttrl_fields(args: Any) -> list[str]:
    """The options TTRLConfig adds to TRL's GRPOConfig, in declaration order (read from the class, so a new
    option is described without a change here)."""
    from trl import GRPOConfig

    grpo = {f.name for f in fields(GRPOConfig)}
    return [f.name for f in fields(args) if f.name not in grpo]


def _field_default(args: Any, name: str) -> Any:
    spec = next(f for f in fields(args) if f.name == name)
    if spec.default is not MISSING:
        return spec.default
    return spec.default_factory() if spec.default_factory is not MISSING else None


def describe_reward(args: Any) -> list[str]:
    """The reward as sentences: the rule, the consensus band, adaptive voting, and any other reward option."""
    n = args.n_votes_per_prompt
    rule = getattr(args, "vote_reward", "majority")
    text = REWARD_RULES.get(rule)
    sentences = [
        f"Reward (`vote_reward: {rule}`): " + (text.format(n=n) if text else "see `ttrl_trl.vote.rewards`") + "."
    ]
    low, high = getattr(args, "min_majority_ratio", 0.0), getattr(args, "max_majority_ratio", 1.0)
    if (low, high) != (0.0, 1.0):
        outside = " or ".join(
            [*([f"less than {low:.0%}"] if low > 0 else []), *([f"more than {high:.0%}"] if high < 1 else [])]
        )
        sentences.append(
            f"Consensus band [{low}, {high}]: a prompt whose winning answer held {outside} of its votes got reward 0 "
            f"for every completion (zero advantage, no policy gradient)."
        )
    else:
        sentences.append("No consensus band: every prompt was trained on, whatever its majority ratio.")
    confidence = getattr(args, "vote_stop_confidence", None)
    if confidence is not None:
        sentences.append(
            f"Adaptive voting (`vote_stop_confidence: {confidence}`): the {args.num_generations} trained completions "
            f"were drawn first, then further rounds of {args.num_generations} only for the prompts whose leading "
            f"answer did not yet beat the runner-up with posterior probability {confidence}, up to {n} votes."
        )
    else:
        sentences.append(f"Every prompt drew all {n} votes (no adaptive voting).")
    threshold = getattr(args, "low_consensus_threshold", None)
    if threshold is not None:
        sentences.append(
            f"Low-consensus penalty (RESTRAIN, arXiv 2510.02172): a prompt whose majority ratio was below {threshold} "
            f"got advantage -{getattr(args, 'low_consensus_penalty', 0.0)} on every completion."
        )
    if getattr(args, "flip_rate_scaling", False):
        sentences.append(
            "Flip-rate-aware scaling (TTRL-Guard, arXiv 2605.19444): a prompt whose pseudo-label flipped since its "
            "previous vote had its advantages scaled down (0.5, or 0.35 when its majority ratio was above 0.6)."
        )
    others = [
        name for name in ttrl_fields(args)
        if ("reward" in name or "guard" in name) and name not in DESCRIBED_REWARD_FIELDS
        and getattr(args, name) != _field_default(args, name)
    ]  # fmt: skip
    if others:
        sentences.append(
            "Other reward settings: " + ", ".join(f"`{name}: {plain(getattr(args, name))}`" for name in others) + "."
        )
    control = getattr(args, "control_reward", None)
    if control == "oracle":
        sentences.append(
            "**Efficacy control, not TTRL:** `control_reward: oracle` replaced the vote's reward with correctness "
            "against the gold answers (GRPO with labels)."
        )
    else:
        if control == "random":
            sentences.append(
                "**Efficacy control, not TTRL:** `control_reward: random` replaced the vote's reward with a fair coin "
                "per completion."
            )
        sentences.append(
            "No ground-truth answer was used as reward; gold answers, when the data had them, were only logged."
        )
    return sentences


def describe_data(run: dict[str, Any]) -> tuple[str, list[str]]:
    """(the data trained on, in words; the Hub dataset ids it came from, for the card's metadata)."""
    from ttrl_trl.data import BENCHMARKS

    dataset = run.get("dataset")
    if not dataset:
        return "the questions given to `TTRLTrainer` (not recorded by name)", []
    bench = BENCHMARKS.get(str(dataset).lower())
    split = f", split `{run['dataset_split']}`" if run.get("dataset_split") else ""
    if Path(dataset).suffix in (".json", ".jsonl", ".parquet"):
        text, hub = f"the local file `{dataset}`", []
    elif bench is not None and run.get("data_dir"):
        text, hub = f"`{dataset}` (the questions of {bench.hub_id}, read from `{run['data_dir']}`)", []
    elif bench is not None:
        text, hub = (
            f"`{dataset}` ([{bench.hub_id}](https://huggingface.co/datasets/{bench.hub_id}){split})",
            [bench.hub_id],
        )
    elif "/" in dataset:
        text, hub = f"[{dataset}](https://huggingface.co/datasets/{dataset}){split}", [dataset]
    else:
        text, hub = f"`{dataset}`", []
    if run.get("max_problems"):
        text += f", its first {run['max_problems']} questions"
    return text, hub


def card_title(hub_model_id: str | None, base_model: str | None) -> str:
    """The model's name: its Hub id, else the base model's name + "TTRL" (never the output folder's name)."""
    if hub_model_id:
        return hub_model_id
    name = Path(base_model.rstrip("/")).name if base_model else "model"
    return f"{name}-TTRL"


def quick_start(model_id: str, system_prompt: str | None, max_new_tokens: int) -> list[str]:
    """Code that prompts the model as it was trained: the same system message, built by ``build_prompt``."""
    from ttrl_trl.data import build_prompt

    messages = build_prompt(EXAMPLE_QUESTION, system_prompt)
    return [
        "```python",
        "from transformers import pipeline",
        "",
        "messages = [",
        *(f"    {json.dumps(message, ensure_ascii=False)}," for message in messages),
        "]",
        f'generator = pipeline("text-generation", model="{model_id}", device_map="auto")',
        f"output = generator(messages, max_new_tokens={max_new_tokens}, return_full_text=False)[0]",
        'print(output["generated_text"])',
        "```",
    ]


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]], digits: int | None = None) -> list[str]:
    """A markdown table; floats rounded to ``digits`` (metrics) or written as given (settings)."""

    def cell(value: Any) -> str:
        value = plain(value)
        return f"{value:.{digits}f}" if digits is not None and isinstance(value, float) else str(value)

    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
    ]


def _is_metric(key: str) -> bool:
    return key.startswith(METRIC_PREFIXES) or key in METRIC_KEYS


def benchmark_rows(log_history: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]], int]:
    """(metric names, the first and last ``benchmark/*`` evaluations as rows, how many there were)."""
    logged = [row for row in log_history if any(k.startswith("benchmark/") and "@" in k for k in row)]
    if not logged:
        return [], [], 0
    names = [k for k in logged[-1] if k.startswith("benchmark/") and ("@" in k or k == "benchmark/no_answer_rate")]
    shown = logged if len(logged) <= 2 else [logged[0], logged[-1]]
    return names, [(row.get("step"), *(row.get(k, "") for k in names)) for row in shown], len(logged)


@dataclass
class CardFacts:
    """Everything the card states, gathered from the trainer or from a trained folder."""

    args: Any
    base_model: str | None
    hub_model_id: str | None
    location: str  # where the quick start loads the model from without a Hub id: the output folder
    run: dict[str, Any] = field(default_factory=dict)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    eval_summary: dict[str, Any] | None = None
    adapter: bool = False
    tags: list[str] = field(default_factory=list)
    report_url: str | None = None


def _versions(adapter: bool) -> list[str]:
    names = ["trl", "transformers", "torch", "datasets", "tokenizers", *(["peft"] if adapter else []), "ttrl-trl"]
    lines = []
    for name in names:
        try:
            lines.append(f"- {name}: {version(name)}")
        except PackageNotFoundError:
            continue
    return lines


def render_card(facts: CardFacts) -> str:
    """The whole ``README.md``: metadata, then the sections the module docstring lists."""
    from huggingface_hub import ModelCardData

    args, base = facts.args, facts.base_model
    title = card_title(facts.hub_model_id, base)
    hub_base = base if base and not looks_local(base) and not Path(base).expanduser().is_dir() else None
    data_text, hub_datasets = describe_data(facts.run)
    system_prompt = facts.run.get("system_prompt")
    metadata = ModelCardData(
        base_model=hub_base,
        library_name="peft" if facts.adapter else "transformers",
        model_name=title,
        pipeline_tag="text-generation",
        tags=list(dict.fromkeys(["ttrl", "trl", "grpo", "test-time-rl", *facts.tags])),
        datasets=hub_datasets or None,
        **{BASE_MODEL_KEY: base},
    )
    if hub_base:
        origin = f"a fine-tuned version of [{hub_base}](https://huggingface.co/{hub_base})"
    elif base:
        origin = f"a fine-tuned version of the local model `{base}`"
    else:
        origin = "a fine-tuned version of an unrecorded base model"
    count = facts.run.get("num_problems")
    questions = f" ({count} questions)" if count and not facts.run.get("max_problems") else ""
    kind = "LoRA adapter" if facts.adapter else "model"
    lines = [
        "---", metadata.to_yaml(), "---", "",
        f"# {title}", "",
        f"This {kind} is {origin}, adapted with Test-Time Reinforcement Learning on the unlabelled questions of "
        f"{data_text}{questions}: the reward came from a majority vote over its own answers, never from a gold "
        f"answer. It has been trained using [TRL](https://github.com/huggingface/trl) and ttrl-trl.",
        "",
        "## Quick start",
        "",
        "The prompt is the one the model was trained with: "
        + (f"the system message `{system_prompt}`, then the question." if system_prompt else "the question alone."),
        "",
        *quick_start(facts.hub_model_id or facts.location, system_prompt, args.max_completion_length),
        "",
    ]  # fmt: skip
    if facts.adapter:
        lines += [f"This repository holds a LoRA adapter on `{base or 'its base model'}`: transformers with peft "
                  "installed loads it on that base, as does `peft.AutoPeftModelForCausalLM.from_pretrained`.", ""]  # fmt: skip
    steps = max((row.get("step", 0) for row in facts.log_history), default=0) or args.max_steps
    lines += [
        "## Training procedure", "",
        *([f"[<img src=\"https://raw.githubusercontent.com/wandb/assets/main/wandb-github-badge-28.svg\" "
           f"alt=\"Visualize in Weights & Biases\" width=\"150\" height=\"24\"/>]({facts.report_url})", ""]
          if facts.report_url else []),
        f"This model was trained with TTRL, a method introduced in [{TTRL_PAPER['title']}]"
        f"(https://huggingface.co/papers/{TTRL_PAPER['id']}), on TRL's GRPO trainer (ttrl-trl's `TTRLTrainer`), "
        f"for {steps} optimiser steps. For each question it sampled up to {args.n_votes_per_prompt} answers, took "
        f"the majority-voted one (answers grouped by math-verify equivalence) as the pseudo-label, and trained "
        f"{args.num_generations} completions per question with GRPO.",
        "",
        *(f"* {sentence}" for sentence in describe_reward(args)),
        "",
    ]  # fmt: skip
    lines += [SECTION_MARK, "", *_table(("setting", "value"), settings_rows(facts, data_text, system_prompt)), ""]
    names, rows, count = benchmark_rows(facts.log_history)
    if rows:
        on = args.benchmark_eval_dataset or "the training questions"
        lines += [
            "### Benchmark during training", "",
            f"On {on}, {args.benchmark_eval_num_samples} samples per problem at temperature "
            f"{args.benchmark_eval_temperature}, top-p {args.benchmark_eval_top_p} ({count} evaluations; all of them "
            f"in `trainer_state.json`):",
            "",
            *_table(("step", *(n.removeprefix("benchmark/") for n in names)), rows, digits=4),
            "",
        ]  # fmt: skip
    if facts.eval_summary:
        summary = facts.eval_summary
        metrics = [(k, v) for k, v in summary.items() if _is_metric(k)]
        settings = [(k, v) for k, v in summary.items() if not _is_metric(k) and v is not None]
        lines += ["### Evaluation", "", *_table(("metric", "value"), metrics, digits=4), ""]
        if settings:
            lines += ["Evaluated with:", "", *_table(("evaluation setting", "value"), settings), ""]
    lines += [
        "## Framework versions", "", *_versions(facts.adapter), "",
        "## Citations", "",
        "Cite TTRL as:", "", "```bibtex", TTRL_PAPER["citation"], "```", "",
        "Cite GRPO as:", "", "```bibtex", _grpo_citation(), "```", "",
        "Cite TRL as:", "", "```bibtex", TRL_CITATION, "```", "",
    ]  # fmt: skip
    return "\n".join(lines)


def settings_rows(facts: CardFacts, data_text: str, system_prompt: str | None) -> list[tuple[str, Any]]:
    """The settings table: the base model and data, the GRPO settings a reader asks for, then every TTRL option."""
    args = facts.args
    band = (args.min_majority_ratio, args.max_majority_ratio)
    rows: list[tuple[str, Any]] = [
        ("base model", facts.base_model or "unknown"),
        ("trained on (unlabelled questions)", data_text),
        ("system prompt", system_prompt or "none (the question alone)"),
        ("reward (`vote_reward`)", args.vote_reward),
        ("consensus band (`min_majority_ratio`, `max_majority_ratio`)", f"[{band[0]}, {band[1]}]" if band != (0.0, 1.0) else "off"),
        ("adaptive voting (`vote_stop_confidence`)", args.vote_stop_confidence if args.vote_stop_confidence is not None else "off"),
        ("completions voted per prompt (`n_votes_per_prompt`)", args.n_votes_per_prompt),
        ("completions trained per prompt (`num_generations`)", args.num_generations),
        ("learning rate", args.learning_rate),
        ("learning-rate schedule", args.lr_scheduler_type),
        ("KL coefficient (`beta`)", args.beta),
        ("loss type", args.loss_type),
        ("temperature", args.temperature),
        ("max completion length", args.max_completion_length),
        ("TRM `trm_delta_max`", args.trm_delta_max if args.trm_delta_max is not None else "off"),
        ("TRM `trm_delta_avg`", args.trm_delta_avg if args.trm_delta_avg is not None else "off"),
    ]  # fmt: skip
    shown = {"vote_reward", "min_majority_ratio", "max_majority_ratio", "vote_stop_confidence", "n_votes_per_prompt",
             "trm_delta_max", "trm_delta_avg", "ground_truth_column"}  # fmt: skip
    for name in ttrl_fields(args):
        if name in shown or (name.startswith("benchmark_eval_") and not args.benchmark_eval_steps):
            continue
        rows.append((f"`{name}`", getattr(args, name)))
    return rows


# ------------------------------------------------------------------------------------------ writing
def write_model_card(
    output_dir: str | Path,
    args: Any,
    *,
    base_model: str | None,
    hub_model_id: str | None = None,
    run: dict[str, Any] | None = None,
    log_history: list[dict[str, Any]] | None = None,
    adapter: bool | None = None,
    tags: list[str] | None = None,
    report_url: str | None = None,
) -> Path:
    """Write ``<output_dir>/README.md``; what is not given is read from the folder (run record, trainer
    state, adapter config, evaluation summary)."""
    output_dir = Path(output_dir)
    summary_path = output_dir / EVAL_SUMMARY_FILE
    facts = CardFacts(
        args=args,
        base_model=base_model,
        hub_model_id=hub_model_id,
        location=str(output_dir),
        run=run if run is not None else load_run_record(output_dir),
        log_history=log_history if log_history is not None else load_log_history(output_dir),
        eval_summary=json.loads(summary_path.read_text()) if summary_path.is_file() else None,
        adapter=adapter if adapter is not None else (output_dir / "adapter_config.json").is_file(),
        tags=list(tags or []),
        report_url=report_url,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    card = output_dir / "README.md"
    card.write_text(render_card(facts), encoding="utf-8")
    return card


def _trainer_facts(trainer: Any, dataset_name: str | None) -> dict[str, Any]:
    """What a trainer knows about its run when ``ttrl_trl.train`` left no record: the base model, the
    data's name if given, the number of questions and the system prompt of its first one."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    peft_config = getattr(model, "peft_config", None)
    if peft_config:
        base = next(iter(peft_config.values())).base_model_name_or_path
    else:
        base = getattr(model.config, "_name_or_path", None) or None
    run = load_run_record(trainer.args.output_dir)
    if not run:
        run = {"dataset": dataset_name, "num_problems": len(trainer.train_dataset) if trainer.train_dataset else None}
        first = trainer.train_dataset[0]["prompt"] if trainer.train_dataset is not None else None
        if isinstance(first, list):
            run["system_prompt"] = next((m["content"] for m in first if m.get("role") == "system"), None)
    return {"base_model": run.get("base_model") or base, "run": run, "adapter": bool(peft_config)}


def write_ttrl_model_card(
    args: Any,
    base_model: str | None = None,
    dataset_name: str | None = None,
    *,
    trainer: Any = None,
    tags: list[str] | str | None = None,
    hub_model_id: str | None = None,
) -> Path:
    """The card of ``args.output_dir``: from a trainer (``TTRLTrainer.create_model_card``) or from the saved
    folder alone (``ttrl_trl.push``); ``dataset_name`` names the data when no run record does."""
    tags = [tags] if isinstance(tags, str) else list(tags or [])
    if trainer is None:
        run = load_run_record(args.output_dir)
        if dataset_name and not run.get("dataset"):
            run["dataset"] = dataset_name
        return write_model_card(
            args.output_dir, args, base_model=base_model or recorded_base_model(args.output_dir),
            hub_model_id=hub_model_id or args.hub_model_id, run=run, tags=tags,
        )  # fmt: skip
    facts = _trainer_facts(trainer, dataset_name)
    try:
        import wandb

        report_url = wandb.run.url if wandb.run is not None else None
    except ImportError:
        report_url = None
    return write_model_card(
        args.output_dir, args, base_model=base_model or facts["base_model"],
        hub_model_id=hub_model_id or args.hub_model_id, run=facts["run"], log_history=trainer.state.log_history,
        adapter=facts["adapter"], tags=[*getattr(trainer, "_tag_names", []), *tags], report_url=report_url,
    )  # fmt: skip
