"""Several TTRL options on one warm-up: the demo's phases 1-2 once, then phases 3-4 per option.

``python -m ttrl_trl.demo.compare --seed 100 --threads 1 --output_dir outputs/compare/seed100 \\
--variant majority= --variant soft="--vote_reward soft"`` writes ``<output_dir>/<name>/`` for each
variant, exactly as ``python -m ttrl_trl.demo.run <common flags> <variant flags>`` would (TTRL is
seeded afresh after the shared phases, so each variant's numbers are the stand-alone demo's), and
``<output_dir>/comparison.json`` with one row per variant. Each row's ``seconds`` is the
stand-alone equivalent: the shared phases' wall time plus the variant's own. Variants may change
TTRL's settings only (reward options, steps, learning rate, ...), never the warm-up or the
evaluation, which they share.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from ttrl_trl.demo.run import DemoConfig, clear_previous_run, parse_demo_config, prepare_fresh, train_and_report

# Fields a variant may not change: they define the shared warm-up and the evaluation.
SHARED_FIELDS = (
    "seed", "output_dir", "threads", "hidden_size", "num_layers", "num_heads", "warmup_steps",
    "warmup_batch_size", "warmup_lr", "noise", "eval_problems", "eval_samples", "eval_temperature",
    "eval_batch_size", "max_completion_length",
)  # fmt: skip


def parse_variants(specs: list[str], common: list[str]) -> dict[str, DemoConfig]:
    """``name=flags`` -> that variant's full config; a variant touching a shared field is refused."""
    base = asdict(parse_demo_config(common))
    variants: dict[str, DemoConfig] = {}
    for spec in specs:
        name, sep, flags = spec.partition("=")
        if not sep or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"--variant must read NAME=FLAGS with a plain NAME, got {spec!r}")
        cfg = parse_demo_config([*common, *shlex.split(flags)])
        changed = [f for f in SHARED_FIELDS if getattr(cfg, f) != base[f]]
        if changed:
            raise ValueError(f"variant {name!r} changes {changed}: put shared settings before the variants")
        cfg.output_dir = str(Path(base["output_dir"]) / name)
        variants[name] = cfg
    if not variants:
        raise ValueError("give at least one --variant NAME=FLAGS")
    return variants


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", default=[], help="NAME=FLAGS (demo flags for TTRL), repeatable")
    known, common = parser.parse_known_args(argv)
    variants = parse_variants(known.variant, common)  # every bad flag fails here, before any model
    out, prepared, shared_seconds = prepare_fresh(parse_demo_config(common))
    rows = []
    for name, cfg in variants.items():
        clear_previous_run(Path(cfg.output_dir))
        summary = train_and_report(cfg, Path(cfg.output_dir), prepared, shared_seconds)
        rows.append({"variant": name, **{key: summary[key] for key in ("seed", "before", "after", "seconds")}})
        rows[-1]["options"] = summary["options"]
        (out / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n")  # after each, for the impatient
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
