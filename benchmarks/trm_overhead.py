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

import statistics
import tempfile
from pathlib import Path

from step_timing import base_config, median_step_time, paired_ratio, parse_benchmark_args, tiny_model, write_report

from ttrl_trl.training.config import TTRLConfig
from ttrl_trl.training.trainer import TTRLTrainer

TRM_ON = {"trm_delta_max": 2.0, "trm_delta_avg": 0.05}


def main() -> None:
    args = parse_benchmark_args(__doc__, "outputs/benchmarks/trm_overhead.json")

    common = {**base_config(args), "n_votes_per_prompt": args.num_generations}
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
    }
    write_report(report, args, ("overhead", "median_step_s"))


if __name__ == "__main__":
    main()
