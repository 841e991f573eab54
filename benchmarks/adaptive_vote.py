"""Adaptive voting on the demo's model: label agreement, votes saved, and the step time against GRPO.

Two stages of the CPU demo's model (``ttrl_trl.demo``): right after its warm-up, and after some TTRL
steps (which make it more self-consistent). At each stage:

1. draw the full ``--n_votes`` samples for ``--problems`` held-out problems (temperature 1.0, the
   policy TTRL samples from), in rounds of ``--round_size`` as the trainer draws them;
2. replay the stop rule of ``ttrl_trl.vote.adaptive`` on those very samples for every ``--confidences``
   value: the label it would have taken, and how many votes it would have drawn;
3. report, per C, the share of problems whose label agrees with the full vote's (equivalent answers,
   or both without a label) and the share of vote-only completions saved
   (``1 - sum(drawn - round) / sum(n_votes - round)``).

Then the step time: ``GRPOTrainer`` (trained group only), ``TTRLTrainer`` with 2x votes, rule off and
on (``--timing_confidence``), on the post-TTRL model, interleaved for ``--repeats`` rounds with
shared seeds; ratios are medians of paired per-step ratios (``step_timing.paired_ratio``).

    python benchmarks/adaptive_vote.py            # about 6 minutes on an idle 2-core machine
    python benchmarks/adaptive_vote.py --work_dir outputs/benchmarks/adaptive_models --skip_replay   # timing only,
                                                  # reusing the models of an earlier run with that --work_dir
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from step_timing import median_step_time, paired_ratio
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

from ttrl_trl.data import build_prompt, load_problems
from ttrl_trl.demo.task import problem_text, split_pairs, write_problems
from ttrl_trl.demo.warmup import warm_up
from ttrl_trl.tiny import CPU_TRAINING_ARGS, build_tiny_model
from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.rewards import majority_vote_reward
from ttrl_trl.training.trainer import TTRLTrainer
from ttrl_trl.vote.adaptive import replay_stop_rule
from ttrl_trl.vote.voting import answers_equivalent, extract_answer, vote_on_answers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=100, help="problem split, warm-up and sampling seed")
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--round_size", type=int, default=8, help="votes per round (num_generations)")
    parser.add_argument("--n_votes", type=int, default=32, help="the full vote per problem")
    parser.add_argument("--confidences", default="0.6,0.7,0.8,0.9,0.95,0.99")
    parser.add_argument("--warmup_steps", type=int, default=600)
    parser.add_argument("--ttrl_steps", type=int, default=40, help="TTRL steps between the two stages")
    parser.add_argument("--timing_confidence", type=float, default=0.95)
    parser.add_argument("--timing_steps", type=int, default=6)
    parser.add_argument("--timing_warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("outputs/benchmarks/adaptive_vote.json"))
    parser.add_argument(
        "--work_dir", type=Path, default=None,
        help="keep the warm-up and TTRL models here and reuse them on the next run (default: a temporary folder)",
    )
    parser.add_argument("--skip_replay", action="store_true", help="only time the steps (no replay of the stop rule)")
    args = parser.parse_args(argv)
    args.confidences = [float(c) for c in args.confidences.split(",")]
    if args.n_votes % args.round_size or args.n_votes <= args.round_size:
        parser.error("--n_votes must be a multiple of --round_size and larger than it")
    if not all(0.5 < c < 1 for c in [*args.confidences, args.timing_confidence]):
        parser.error("every confidence must be in (0.5, 1)")
    return args


@torch.no_grad()
def sample_votes(model_dir: Path, problems: list[str], n_votes: int, seed: int, batch: int = 400) -> list[list]:
    """``n_votes`` extracted answers per problem, sampled at temperature 1.0 with the demo's token budget."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    torch.manual_seed(seed)
    rows = [p for p in problems for _ in range(n_votes)]
    texts: list[str] = []
    for start in range(0, len(rows), batch):
        prompts = [
            tokenizer.apply_chat_template(
                build_prompt(p, system_prompt=None), add_generation_prompt=True, tokenize=False
            )
            for p in rows[start : start + batch]
        ]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        out = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, max_new_tokens=32)
        texts.extend(tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True))
    answers = [extract_answer(t) for t in texts]
    return [answers[i * n_votes : (i + 1) * n_votes] for i in range(len(problems))]


def replay(votes: list[list], gold: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Per C: label agreement with the full vote, vote-only completions saved, and both labels' accuracy."""
    full = [vote_on_answers(v).label for v in votes]
    vote_only = len(votes) * (args.n_votes - args.round_size)
    out: dict[str, Any] = {
        "full_vote_label_accuracy": _mean(
            lbl is not None and answers_equivalent(lbl, g) for lbl, g in zip(full, gold)
        ),
        "by_confidence": {},
    }
    for c in args.confidences:
        replayed = [replay_stop_rule(v, args.round_size, c) for v in votes]
        agree = [
            (a is None and b is None) or (a is not None and b is not None and answers_equivalent(a, b))
            for (_, a), b in zip(replayed, full)
        ]
        drawn_vote_only = sum(used - args.round_size for used, _ in replayed)
        out["by_confidence"][str(c)] = {
            "label_agreement": _mean(agree),
            "vote_only_saved": 1 - drawn_vote_only / vote_only,
            "mean_votes": _mean(used for used, _ in replayed),
            "label_accuracy": _mean(
                lbl is not None and answers_equivalent(lbl, g) for (_, lbl), g in zip(replayed, gold)
            ),
        }
    return out


def run_ttrl(model_dir: Path, data: Path, out: Path, steps: int, seed: int) -> Path:
    """The demo's TTRL settings (8 problems x 16 votes, all trained, lr 4e-5) for ``steps`` steps."""
    args = TTRLConfig(
        output_dir=str(out), max_steps=steps, per_device_train_batch_size=128, num_generations=16,
        n_votes_per_prompt=16, learning_rate=4e-5, lr_scheduler_type="constant", beta=0.0, temperature=1.0,
        max_completion_length=32, loss_type="dapo", logging_steps=10, seed=seed, disable_tqdm=True,
        **CPU_TRAINING_ARGS,
    )  # fmt: skip
    trainer = TTRLTrainer(model=str(model_dir), args=args, train_dataset=load_problems(str(data), system_prompt=None))
    trainer.train()
    trainer.save_model(str(out))
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def time_steps(model_dir: Path, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    g = args.round_size
    common = dict(per_device_train_batch_size=2 * g, num_generations=g, max_completion_length=32,
                  learning_rate=1e-5, beta=0.0, temperature=1.0)  # fmt: skip
    variants = {
        "grpo": (GRPOTrainer, GRPOConfig, {"reward_funcs": [majority_vote_reward]}),
        "ttrl_2x": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": 2 * g}),
        "ttrl_2x_adaptive": (
            TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": 2 * g, "vote_stop_confidence": args.timing_confidence},
        ),
    }  # fmt: skip
    runs: dict[str, list[list[float]]] = {name: [] for name in variants}
    cpu_runs: dict[str, list[list[float]]] = {name: [] for name in variants}
    settled: dict[str, list[float]] = {name: [] for name in variants}
    votes: dict[str, list[float]] = {name: [] for name in variants}
    tokens: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for name, (trainer_cls, config_cls, extra) in variants.items():
            result = median_step_time(
                trainer_cls, config_cls, model_dir, data, args.timing_steps, args.timing_warmup, seed=repeat,
                **common, **extra,
            )  # fmt: skip
            runs[name].append(result["times_s"])
            cpu_runs[name].append(result["cpu_times_s"])
            timed = [h for h in result["log_history"] if "step_time" in h][args.timing_warmup :]
            votes[name].extend(h["ttrl/votes_per_prompt"] for h in timed if "ttrl/votes_per_prompt" in h)
            settled[name].extend(h["ttrl/settled_fraction"] for h in timed if "ttrl/settled_fraction" in h)
            # Everything generated per step; GRPO generates only its trained completions.
            rows = common["per_device_train_batch_size"]
            tokens[name].extend(h.get("ttrl/generated_tokens", h["completions/mean_length"] * rows) for h in timed)
            print(f"timing round {repeat} {name:16s} median step {result['median_s'] * 1000:.0f} ms "
                  f"(CPU {statistics.median(result['cpu_times_s']) * 1000:.0f} ms)", flush=True)  # fmt: skip
    return {
        "ratio_ttrl_2x_over_grpo": paired_ratio(runs["ttrl_2x"], runs["grpo"]),
        "ratio_ttrl_2x_adaptive_over_grpo": paired_ratio(runs["ttrl_2x_adaptive"], runs["grpo"]),
        # CPU time of the training process per step: the same comparison, insensitive to other jobs' load.
        "cpu_ratio_ttrl_2x_over_grpo": paired_ratio(cpu_runs["ttrl_2x"], cpu_runs["grpo"]),
        "cpu_ratio_ttrl_2x_adaptive_over_grpo": paired_ratio(cpu_runs["ttrl_2x_adaptive"], cpu_runs["grpo"]),
        "mean_settled_fraction": _mean(settled["ttrl_2x_adaptive"]),
        "mean_votes_per_prompt": {name: _mean(v) for name, v in votes.items() if v},
        "mean_generated_tokens": {name: _mean(v) for name, v in tokens.items()},
        "step_times_s": runs,
        "step_cpu_times_s": cpu_runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.time()
    report: dict[str, Any] = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        train_pairs, test_pairs = split_pairs(args.problems, args.seed)
        data = write_problems(test_pairs, Path(tmp) / "problems.json")
        problems, gold = [problem_text(a, b) for a, b in test_pairs], [str(a + b) for a, b in test_pairs]
        warm = work / "warm"
        if not (warm / "config.json").is_file():
            init = build_tiny_model(work / "init", hidden_size=128, num_layers=3, num_heads=4, seed=args.seed)
            warm_up(init, warm, train_pairs, steps=args.warmup_steps, seed=args.seed, progress=False)
            print(f"warm-up done ({time.time() - start:.0f} s)", flush=True)
        stages = {"after_warmup": warm}
        if args.ttrl_steps:
            stages["after_ttrl"] = work / "ttrl"
            if not (stages["after_ttrl"] / "config.json").is_file():
                random.seed(args.seed)
                run_ttrl(warm, data, stages["after_ttrl"], args.ttrl_steps, args.seed)
                print(f"TTRL done ({time.time() - start:.0f} s)", flush=True)
        for stage, model_dir in stages.items() if not args.skip_replay else ():
            votes = sample_votes(model_dir, problems, args.n_votes, args.seed)
            report[stage] = replay(votes, gold, args)
            _print_stage(stage, report[stage])
        report["timing"] = time_steps(stages[list(stages)[-1]], data, args)
    report["seconds"] = time.time() - start
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    t = report["timing"]
    print(f"step time / GRPO at 2x votes: rule off {t['ratio_ttrl_2x_over_grpo']:.3f}, "
          f"rule on (C={args.timing_confidence}) {t['ratio_ttrl_2x_adaptive_over_grpo']:.3f}; CPU time: rule off "
          f"{t['cpu_ratio_ttrl_2x_over_grpo']:.3f}, rule on {t['cpu_ratio_ttrl_2x_adaptive_over_grpo']:.3f}")
    print("generated tokens per step: " + ", ".join(f"{k} {v:.0f}" for k, v in t["mean_generated_tokens"].items())
          + f"; votes per prompt {t['mean_votes_per_prompt']}, settled after the trained round "
          f"{t['mean_settled_fraction']:.2f}")  # fmt: skip
    print(f"written to {args.output} ({report['seconds']:.0f} s)")
    return report


def _print_stage(stage: str, result: dict[str, Any]) -> None:
    print(f"\n{stage}: full-vote label accuracy {result['full_vote_label_accuracy']:.3f}")
    print(f"{'C':>6s} {'agreement':>10s} {'saved':>8s} {'votes':>7s} {'label acc':>10s}")
    for c, r in result["by_confidence"].items():
        print(f"{c:>6s} {r['label_agreement']:10.3f} {r['vote_only_saved']:8.3f} {r['mean_votes']:7.1f} "
              f"{r['label_accuracy']:10.3f}")  # fmt: skip


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0


if __name__ == "__main__":
    main()
