"""TTRLTrainer step time over plain GRPOTrainer step time, on the tiny model (issue: goal <= 1.05).

Three variants, same prompts, same seed, same ``num_generations`` trained per prompt:

* ``grpo``: ``trl.GRPOTrainer`` with our majority-vote reward function voting on the trained group;
* ``ttrl``: ``TTRLTrainer`` with ``n_votes_per_prompt == num_generations`` (no extra samples): the
  cost of TTRL's own machinery (answer extraction, cross-rank gather, vote, metrics);
* ``ttrl_2x``: ``TTRLTrainer`` voting on twice as many completions as it trains on (the paper's
  64 -> 32 ratio): the price of the bigger vote (one more generation round, no extra forward),
  drawn as the default does, one round per ``generate`` call (memory of plain GRPO);
* ``ttrl_2x_one_call``: the same with ``vote_rounds_per_call: 2``, both rounds in one call of twice
  the rows (what the default gives up to bound memory).

Variants run interleaved for ``--repeats`` rounds with the round's seed, so ``grpo`` and ``ttrl``
sample the same tokens; ratios are medians of paired per-step ratios (see ``paired_ratio``).
Writes JSON to ``--output``.

    python benchmarks/step_overhead.py --steps 8 --repeats 3
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from step_timing import base_config, median_step_time, paired_ratio, parse_benchmark_args, tiny_model, write_report
from trl import GRPOConfig, GRPOTrainer

from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.rewards import majority_vote_reward
from ttrl_trl.training.trainer import TTRLTrainer


def main() -> None:
    args = parse_benchmark_args(__doc__, "outputs/benchmarks/step_overhead.json")

    common = base_config(args)
    variants = {
        "grpo": (GRPOTrainer, GRPOConfig, {"reward_funcs": [majority_vote_reward]}),
        "ttrl": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": args.num_generations}),
        "ttrl_2x": (TTRLTrainer, TTRLConfig, {"n_votes_per_prompt": 2 * args.num_generations}),
        "ttrl_2x_one_call": (
            TTRLTrainer,
            TTRLConfig,
            {"n_votes_per_prompt": 2 * args.num_generations, "vote_rounds_per_call": 2},
        ),
    }
    runs: dict[str, list[list[float]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp))
        for repeat in range(args.repeats):
            for name, (trainer_cls, config_cls, extra) in variants.items():
                result = median_step_time(
                    trainer_cls,
                    config_cls,
                    model,
                    args.dataset,
                    args.steps,
                    args.warmup,
                    seed=repeat,
                    **common,
                    **extra,
                )
                runs[name].append(result["times_s"])
                print(f"round {repeat} {name:8s} median step {result['median_s'] * 1000:.0f} ms")

    median = {name: statistics.median(t for run in values for t in run) for name, values in runs.items()}
    report = {
        "median_step_s": median,
        "step_times_s": runs,
        "ratio_ttrl_over_grpo": paired_ratio(runs["ttrl"], runs["grpo"]),
        "ratio_ttrl_2x_over_grpo": paired_ratio(runs["ttrl_2x"], runs["grpo"]),
        "ratio_ttrl_2x_one_call_over_grpo": paired_ratio(runs["ttrl_2x_one_call"], runs["grpo"]),
    }
    write_report(report, args, ("ratio", "median_step_s"))


if __name__ == "__main__":
    main()
