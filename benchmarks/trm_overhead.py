"""Trust Region Masking's added time per training step, on the tiny model (issue: goal < 2 %).

``TTRLTrainer`` with TRM off and with TRM on (both criteria), same prompts and seed. Two regimes:

* ``on_policy``: one optimiser step per generation. TRL would skip pi_roll's log-probs here; TRM
  computes them (one extra no-grad forward) so the mask is a real check; that forward is
  TRM's main cost.
* ``off_policy``: ``steps_per_generation = 2``. TRL computes the old log-probs anyway, so TRM only
  adds the mask and its metrics.

Runs are interleaved for ``--repeats`` rounds with the round's seed, so TRM on and off sample the
same tokens; the overhead is the median of paired per-step ratios minus one.

    python benchmarks/trm_overhead.py --steps 8 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch
from step_timing import DEFAULT_DATASET, median_step_time, paired_ratio, tiny_model

from ttrl_trl.config import TTRLConfig
from ttrl_trl.trainer import TTRLTrainer

TRM_ON = {"trm_delta_max": 2.0, "trm_delta_avg": 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num_generations", type=int, default=8)
    parser.add_argument("--prompts_per_step", type=int, default=2)
    parser.add_argument("--max_completion_length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("outputs/benchmarks/trm_overhead.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    common = dict(
        per_device_train_batch_size=args.num_generations * args.prompts_per_step,
        num_generations=args.num_generations,
        n_votes_per_prompt=args.num_generations,
        max_completion_length=args.max_completion_length,
        learning_rate=1e-5,
        beta=0.0,
    )
    regimes = {
        "on_policy": {},
        "off_policy": {
            "per_device_train_batch_size": args.num_generations * args.prompts_per_step // 2,
            "steps_per_generation": 2,
        },
    }
    runs: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp))
        for repeat in range(args.repeats):
            for regime, overrides in regimes.items():
                for trm_name, trm in (("off", {}), ("on", TRM_ON)):
                    result = median_step_time(
                        TTRLTrainer, TTRLConfig, model, args.dataset, args.steps, args.warmup, seed=repeat,
                        **{**common, **overrides, **trm},
                    )
                    runs.setdefault(f"{regime}/trm_{trm_name}", []).append(result["times_s"])
                    print(f"round {repeat} {regime:10s} trm {trm_name:3s} median step {result['median_s'] * 1000:.0f} ms")

    median = {name: statistics.median(t for run in values for t in run) for name, values in runs.items()}
    report = {
        "median_step_s": median,
        "step_times_s": runs,
        "overhead_on_policy": paired_ratio(runs["on_policy/trm_on"], runs["on_policy/trm_off"]) - 1,
        "overhead_off_policy": paired_ratio(runs["off_policy/trm_on"], runs["off_policy/trm_off"]) - 1,
        "trm": TRM_ON,
        "settings": {k: v if not isinstance(v, Path) else str(v) for k, v in vars(args).items()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k.startswith("overhead") or k == "median_step_s"}, indent=2))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
