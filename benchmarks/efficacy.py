"""The efficacy protocol: does TTRL raise accuracy without labels, on many seeds, against controls?

For each seed: the demo's warm-up and its evaluation before TTRL (phases 1-2 of
:mod:`ttrl_trl.demo.run`, once), then every variant's TTRL run and its evaluation after (phases
3-4), each evaluated with labels every ``--eval_every`` steps *only to measure* checkpoints
(``benchmark/*`` in the log; the benchmark callback restores training's random state, so this
changes no training sample). Variants are demo flags; two are controls that go through the same
trainer (``TTRLConfig.control_reward``): ``oracle`` (reward = correctness against the gold answer:
GRPO with labels, the ceiling) and ``random`` (Bernoulli(0.5) per completion: no signal).

Per variant, over seeds: mean and 95 % t-interval of the change in pass@1, maj@16 and pass@16;
the share of seeds gaining at least 15 points of pass@1; the share with a collapse (pass@16 down 5
points or more); the median wall time of the stand-alone demo equivalent (labelled evaluations
excluded). Per seed and variant, three checkpoints side by side: the last, the one the label-free
``ttrl/selection_score`` prefers (:mod:`ttrl_trl.training.selection`), and the best by the labelled
evaluation (oracle best); regret = oracle best's pass@1 minus the chosen one's.

On report seeds (outside 100-199, where defaults are chosen) the issue's goals for the demo default are
measured and each marked met or not met, in ``efficacy.json`` (``goals``) and ``efficacy.md``.

Writes ``efficacy.json``, ``efficacy.md`` and ``efficacy.png`` in ``--output_dir``, prints
progress, and resumes: a seed's warm-up, and a seed x variant already done, are never redone, so
several processes may share one output folder on disjoint ``--seeds``.

    python benchmarks/efficacy.py --seeds 0-9 --output_dir outputs/efficacy          # all default variants
    python benchmarks/efficacy.py --seeds 100-104 --variants majority,soft,oracle,random
    python benchmarks/efficacy.py --report outputs/efficacy                          # tables and figure only
    python benchmarks/efficacy.py --readme README.md       # its <!-- efficacy: DIR --> blocks from DIR's runs
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import statistics
import sys
import time
from pathlib import Path

from ttrl_trl.training.selection import SELECTION_RULES  # noqa: E402

# Each variant is a set of demo flags applied on top of the shared ones. Every variant states its reward
# explicitly, so a later change of the demo's default does not change what a name means.
VARIANTS: dict[str, str] = {
    "majority": "--vote_reward majority --flip_rate_scaling false",
    "soft": "--vote_reward soft --flip_rate_scaling false",
    "oracle": "--control_reward oracle --flip_rate_scaling false",
    "random": "--control_reward random --flip_rate_scaling false",
    # the guards (ttrl_trl.vote.guards) on top of the soft reward; their settings are ours, fixed before any run
    "restrain": "--vote_reward soft --flip_rate_scaling false --low_consensus_threshold 0.5 --low_consensus_penalty 0.2",
    "frs": "--vote_reward soft --flip_rate_scaling true",  # the demo's default since seeds 100-102 chose it
}
DEFAULT_VARIANTS = ("frs", "oracle", "random", "soft", "majority", "restrain")
SELECTION_SEEDS = range(100, 200)  # choose defaults here only; the goals are judged on other seeds
DEMO_DEFAULT = "frs"  # the variant equal to `make demo` without flags (a test checks it against DemoConfig)
GAIN_GOAL = 0.15  # pass@1 points (as a fraction) a seed must gain to count as a success
COLLAPSE = 0.05  # a pass@16 drop this large is a collapse
# The goals for the demo default, on report seeds: each is measured and marked met or not met.
GAIN_SHARE_GOAL = 0.9  # share of seeds gaining GAIN_GOAL or more
PASS_K_FLOOR = -0.02  # the worst pass@16 change allowed on any seed
DEMO_SECONDS_GOAL = 300.0  # wall time of one demo
ORACLE_SHARE_GOAL = 0.8  # the default's gain as a share of oracle's, on the seeds both ran
RANDOM_SHARE_LIMIT = 1 / 3  # random's gain as a share of the default's, on the seeds both ran
REGRET_GOAL = 0.01  # mean regret of the label-free checkpoint choice, pass@1 as a fraction

# Two-sided 95 % Student t quantiles, df = 1..30 (beyond: the normal 1.96).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


class ProtocolError(ValueError):
    """Bad input to the protocol: reported in one line before any model is built."""


# ---------------------------------------------------------------------------------------------- input
def parse_seeds(spec: str) -> list[int]:
    """``0-9``, ``100-104,110`` -> the seeds, in order, each once."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        first, sep, last = part.partition("-")
        try:
            span = range(int(first), int(last) + 1) if sep else [int(first)]
        except ValueError:
            raise ProtocolError(f"--seeds must read like 0-9 or 100-104,110; got {spec!r}") from None
        seeds.extend(s for s in span if s not in seeds)
    if not seeds:
        raise ProtocolError(f"--seeds names no seed: {spec!r}")
    return seeds


def parse_variants(spec: str, custom: list[str]) -> dict[str, str]:
    """Known variant names (``--variants a,b``) plus ``--variant NAME=FLAGS``; an unknown name is refused."""
    chosen: dict[str, str] = {}
    for name in filter(None, (n.strip() for n in spec.split(","))):
        if name not in VARIANTS:
            raise ProtocolError(
                f"--variants: unknown variant {name!r}; known: {', '.join(VARIANTS)} (or add one with --variant NAME=FLAGS)"
            )
        chosen[name] = VARIANTS[name]
    for item in custom:
        name, sep, flags = item.partition("=")
        if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ProtocolError(f"--variant must read NAME=FLAGS with a plain NAME; got {item!r}")
        chosen[name] = flags
    if not chosen:
        raise ProtocolError("no variant to run: give --variants and/or --variant NAME=FLAGS")
    return chosen


def variant_configs(variants: dict[str, str], common: list[str], root: Path, seed: int) -> dict:
    """Each variant's full demo config for one seed (every bad flag fails here, before any model)."""
    from ttrl_trl.demo.compare import parse_variants as demo_variants

    specs = [f"{name}={flags}" for name, flags in variants.items()]
    try:
        return demo_variants(specs, [*common, "--seed", str(seed), "--output_dir", str(root / f"seed{seed}")])
    except (ValueError, SystemExit) as err:
        raise ProtocolError(f"a variant's flags are not valid demo flags: {err}") from None


# ---------------------------------------------------------------------------------------------- running
def prepared_for(seed_cfg, seed_dir: Path):
    """Phases 1-2 for one seed, or what an earlier run of them left (``prepared.json``)."""
    from ttrl_trl.demo.run import Prepared, clear_previous_run, prepare, quiet_and_threads

    quiet_and_threads(seed_cfg)
    saved = seed_dir / "prepared.json"
    seed_dir.mkdir(parents=True, exist_ok=True)
    lock = seed_dir / ".preparing"
    if saved.is_file() and not (seed_dir / "warm" / "config.json").is_file():
        saved.unlink()  # runs copied without their models (benchmarks/results): warm up again, same seed, same model
    while not saved.is_file():
        try:  # one process prepares a seed; another running other variants of it waits for the result
            lock.touch(exist_ok=False)
        except FileExistsError:
            time.sleep(10)
            continue
        try:
            clear_previous_run(seed_dir)
            start = time.time()
            prepared = prepare(seed_cfg, seed_dir)
            shared = time.time() - start
            fields = {"before": prepared.before, "seconds": prepared.seconds, "cpu_seconds": prepared.cpu_seconds}
            saved.write_text(json.dumps({"prepared": fields, "shared_seconds": shared}, indent=2) + "\n")
            return prepared, shared
        finally:
            lock.unlink(missing_ok=True)
    data = json.loads(saved.read_text())
    return Prepared(seed_dir / "problems.json", seed_dir / "warm", **data["prepared"]), data["shared_seconds"]


def run(seeds: list[int], variants: dict[str, str], common: list[str], root: Path) -> None:
    from ttrl_trl.demo.run import clear_previous_run, parse_demo_config, train_and_report

    configs = {seed: variant_configs(variants, common, root, seed) for seed in seeds}  # all checks first
    todo = [(s, v) for s in seeds for v in variants if not (root / f"seed{s}" / v / "summary.json").is_file()]
    total, done, start = len(seeds) * len(variants), len(seeds) * len(variants) - len(todo), time.time()
    print(
        f"efficacy: {len(seeds)} seeds x {len(variants)} variants, {done} done before, {len(todo)} to run", flush=True
    )
    for k, (seed, name) in enumerate(todo):
        seed_dir = root / f"seed{seed}"
        if (seed_dir / name / "summary.json").is_file():
            continue  # another process sharing this folder ran it meanwhile
        prepared, shared = prepared_for(
            parse_demo_config([*common, "--seed", str(seed), "--output_dir", str(seed_dir)]), seed_dir
        )
        cfg = configs[seed][name]
        eta = "" if not k else f", about {(time.time() - start) / k * (len(todo) - k) / 60:.0f} min left"
        print(f"efficacy: seed {seed}, variant {name} ({done + k + 1}/{total}{eta})", flush=True)
        clear_previous_run(Path(cfg.output_dir))
        train_and_report(cfg, Path(cfg.output_dir), prepared, shared)
        write_report(root)


# ---------------------------------------------------------------------------------------------- report
def mean_ci(values: list[float]) -> dict:
    """Mean and 95 % Student-t interval (half-width 0 for a single value: an anecdote, flagged by n)."""
    n = len(values)
    mean = statistics.fmean(values)
    half = 0.0 if n < 2 else (_T975[n - 2] if n - 1 <= len(_T975) else 1.96) * statistics.stdev(values) / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def checkpoint_choices(history: list[dict], k: int, rule: str | None = None) -> dict | None:
    """Last, label-free choice (by ``rule``, default: the trainer's) and oracle best among the labelled steps."""
    from ttrl_trl.training.selection import DEFAULT_RULE, selection_scores

    evals = {row["step"]: row for row in history if "benchmark/pass@1" in row}
    if not evals:
        return None
    scores = selection_scores(history, rule or DEFAULT_RULE)
    steps = sorted(evals)
    last = steps[-1]
    scored = [s for s in steps if s in scores]
    chosen = max(scored, key=lambda s: (scores[s], s)) if scored else last  # ties: the later step
    best = max(steps, key=lambda s: (evals[s]["benchmark/pass@1"], -s))
    figure = {s: evals[s]["benchmark/pass@1"] for s in steps}
    return {
        "steps": steps,
        "pass@1": figure,
        "pass@k": {s: evals[s].get(f"benchmark/pass@{k}") for s in steps},
        "selection_score": {s: scores.get(s) for s in steps},
        "last": {"step": last, "pass@1": figure[last], "regret": figure[best] - figure[last]},
        "label_free": {"step": chosen, "pass@1": figure[chosen], "regret": figure[best] - figure[chosen]},
        "oracle_best": {"step": best, "pass@1": figure[best]},
    }


def collect(root: Path) -> dict:
    """Every finished seed x variant under ``root``: before/after, deltas, time, checkpoint choices."""
    runs: dict[str, dict[int, dict]] = {}
    for summary_file in sorted(root.glob("seed*/*/summary.json")):
        if not (summary_file.parent / "log_history.jsonl").is_file():
            continue  # an evaluation's summary (eval_before), not a variant's run
        summary = json.loads(summary_file.read_text())
        k = summary["config"]["eval_samples"]
        keys = ("pass@1", f"maj@{k}", f"pass@{k}")
        history = [json.loads(line) for line in (summary_file.parent / "log_history.jsonl").read_text().splitlines()]
        eval_seconds = sum(row.get("benchmark/seconds", 0.0) for row in history)
        runs.setdefault(summary_file.parent.name, {})[summary["seed"]] = {
            "before": summary["before"],
            "after": summary["after"],
            "delta": {key: summary["after"][key] - summary["before"][key] for key in keys},
            "seconds": summary["seconds"] - eval_seconds,
            "options": summary.get("options", {}),
            "checkpoints": checkpoint_choices(history, k),
            "rule_regret": {
                rule: choice["label_free"]["regret"]
                for rule in SELECTION_RULES
                if (choice := checkpoint_choices(history, k, rule))
            },
        }
    return runs


def rule_regrets(runs: dict[str, dict[int, dict]]) -> dict[str, dict]:
    """Each label-free rule's regret (mean and interval) over every run: how the default rule is chosen."""
    values: dict[str, list[float]] = {}
    for by_seed in runs.values():
        for run in by_seed.values():
            for rule, regret in run.get("rule_regret", {}).items():
                values.setdefault(rule, []).append(regret)
    return {rule: mean_ci(v) for rule, v in values.items()}


def summarize(runs: dict[str, dict[int, dict]]) -> dict:
    """Per variant: the protocol's figures over its seeds."""
    table = {}
    for name, by_seed in runs.items():
        seeds = sorted(by_seed)
        rows = [by_seed[s] for s in seeds]
        keys = list(rows[0]["delta"])
        pass_k = keys[-1]
        entry = {
            "seeds": seeds,
            "delta": {key: mean_ci([r["delta"][key] for r in rows]) for key in keys},
            "after": {key: statistics.fmean(r["after"][key] for r in rows) for key in keys},
            "before": {key: statistics.fmean(r["before"][key] for r in rows) for key in keys},
            "gain_share": statistics.fmean(r["delta"]["pass@1"] >= GAIN_GOAL - 1e-9 for r in rows),
            "collapse_share": statistics.fmean(r["delta"][pass_k] <= -COLLAPSE + 1e-9 for r in rows),
            "worst_pass_k_change": min(r["delta"][pass_k] for r in rows),
            "median_seconds": statistics.median(r["seconds"] for r in rows),
        }
        chosen = [r["checkpoints"] for r in rows if r["checkpoints"]]
        if chosen:
            entry["regret"] = {pick: mean_ci([c[pick]["regret"] for c in chosen]) for pick in ("last", "label_free")}
        table[name] = entry
    return table


def markdown(table: dict, order: list[str]) -> str:
    """The README's table: one row per variant."""

    def pts(ci: dict) -> str:
        return f"{100 * ci['mean']:+.1f} [{100 * ci['low']:+.1f}, {100 * ci['high']:+.1f}]"

    any_entry = next(iter(table.values()))
    keys = list(any_entry["delta"])
    head = (
        f"| variant | seeds | Δ {keys[0]} (points, 95 % CI) | Δ {keys[1]} | Δ {keys[2]} | gain ≥ 15 pts | "
        f"collapse (Δ {keys[2]} ≤ -5) | worst Δ {keys[2]} | regret last | regret label-free | median s |"
    )
    lines = [head, "|" + "---|" * 11]
    for name in order:
        e = table[name]
        regret = e.get("regret", {})
        r = [f"{100 * regret[p]['mean']:.1f}" if p in regret else "-" for p in ("last", "label_free")]
        lines.append(
            f"| {name} | {len(e['seeds'])} | {pts(e['delta'][keys[0]])} | {pts(e['delta'][keys[1]])} | "
            f"{pts(e['delta'][keys[2]])} | {100 * e['gain_share']:.0f} % | {100 * e['collapse_share']:.0f} % | "
            f"{100 * e['worst_pass_k_change']:+.1f} | {r[0]} | {r[1]} | {e['median_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _paired_means(runs: dict, a: str, b: str, key: str = "pass@1") -> tuple[list[int], float, float]:
    """Seeds both variants ran, and each one's mean change there (a ratio compares like with like)."""
    seeds = sorted(set(runs.get(a, {})) & set(runs.get(b, {})))
    if not seeds:
        return [], math.nan, math.nan
    return (
        seeds,
        statistics.fmean(runs[a][s]["delta"][key] for s in seeds),
        statistics.fmean(runs[b][s]["delta"][key] for s in seeds),
    )


def goals(runs: dict, table: dict, default: str = DEMO_DEFAULT) -> list[dict]:
    """The issue's goals for ``default``, each measured and marked met (True), not met (False) or None (no data).

    Ratios to ``oracle`` and ``random`` use only the seeds both variants ran; the checkpoint goal uses the
    default's runs (the run a user makes), with every other TTRL run's figure given beside it. Judged only on
    seeds never used for selection: a report with a selection seed in it has no goals.
    """
    if default not in table or any(s in SELECTION_SEEDS for s in table[default]["seeds"]):
        return []
    entry = table[default]
    pass_k = list(entry["delta"])[-1]
    out: list[dict] = []

    def add(name: str, measured: str, met: bool | None) -> None:
        out.append({"goal": name, "measured": measured, "met": met})

    n = len(entry["seeds"])
    maj_k = list(entry["delta"])[1]
    within = sum(runs[default][s]["delta"][pass_k] >= PASS_K_FLOOR - 1e-9 for s in entry["seeds"])
    add(
        f"pass@1 +{100 * GAIN_GOAL:.0f} points or more on at least {100 * GAIN_SHARE_GOAL:.0f} % of seeds",
        f"{100 * entry['gain_share']:.0f} % of {n} seeds (mean {100 * entry['delta']['pass@1']['mean']:+.1f})",
        entry["gain_share"] >= GAIN_SHARE_GOAL - 1e-9,
    )
    add(
        f"{pass_k} down at most {-100 * PASS_K_FLOOR:.0f} points on every seed",
        f"worst {100 * entry['worst_pass_k_change']:+.1f} points; {within} of {n} seeds within it",
        entry["worst_pass_k_change"] >= PASS_K_FLOOR - 1e-9,
    )
    add(
        f"one demo in under {DEMO_SECONDS_GOAL / 60:.0f} minutes",
        f"median {entry['median_seconds']:.0f} s (1 thread, labelled evaluations excluded)",
        entry["median_seconds"] < DEMO_SECONDS_GOAL,
    )
    seeds, mine, oracle = _paired_means(runs, default, "oracle")
    add(
        f"gain at least {100 * ORACLE_SHARE_GOAL:.0f} % of oracle's",
        f"{100 * mine:+.1f} vs {100 * oracle:+.1f} points on {len(seeds)} common seeds ({100 * mine / oracle:.0f} %)"
        if seeds and oracle > 0
        else "no common seed with oracle (or oracle gained nothing)",
        (mine >= ORACLE_SHARE_GOAL * oracle) if seeds and oracle > 0 else None,
    )
    seeds, mine, rand = _paired_means(runs, default, "random")
    add(
        "random's gain at most a third of the default's",
        f"random {100 * rand:+.1f} vs {100 * mine:+.1f} points on {len(seeds)} common seeds"
        if seeds
        else "no common seed with random",
        (rand <= RANDOM_SHARE_LIMIT * mine) if seeds else None,
    )
    regret = entry.get("regret")
    if regret:
        chosen, last = regret["label_free"]["mean"], regret["last"]["mean"]
        others = [r for name, by_seed in runs.items() if name not in ("oracle", "random") for r in by_seed.values()]
        picks = [r["checkpoints"] for r in others if r["checkpoints"]]
        beside = (
            f"; all {len(picks)} TTRL runs: {100 * statistics.fmean(p['label_free']['regret'] for p in picks):.1f} vs "
            f"{100 * statistics.fmean(p['last']['regret'] for p in picks):.1f}"
        )
        add(
            f"label-free checkpoint: mean regret at most {100 * REGRET_GOAL:.0f} point and below the last checkpoint's",
            f"{100 * chosen:.1f} vs last {100 * last:.1f} points over {regret['label_free']['n']} runs{beside}",
            chosen <= REGRET_GOAL + 1e-9 and chosen < last,
        )
    add(
        f"stretch: mean final pass@1 above mean initial {maj_k}",
        f"{entry['after']['pass@1']:.3f} vs {entry['before'][maj_k]:.3f}",
        entry["after"]["pass@1"] > entry["before"][maj_k],
    )
    return out


def goals_markdown(items: list[dict], default: str = DEMO_DEFAULT, seeds: list[int] | None = None) -> str:
    """One line per goal: what it asks, what was measured, met or not."""
    if not items:
        return ""
    verdict = {True: "**met**", False: "**not met**", None: "not measured"}
    on = f", seeds {', '.join(map(str, seeds))}" if seeds else ""
    lines = [f"Goals for the demo default (`{default}`{on}):", ""]
    lines += [f"* {g['goal']}: {g['measured']}; {verdict[g['met']]}" for g in items]
    return "\n".join(lines) + "\n"


def figure(runs: dict, order: list[str], path: Path) -> None:
    """One dot per seed and variant (change in pass@1 and in pass@k), with each variant's mean and interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(next(iter(next(iter(runs.values())).values()))["delta"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key in zip(axes, (keys[0], keys[2])):
        for x, name in enumerate(order):
            values = [100 * run["delta"][key] for run in runs[name].values()]
            jitter = [x + 0.08 * ((i % 5) - 2) for i in range(len(values))]
            ax.scatter(jitter, values, s=18, alpha=0.7)
            ci = mean_ci(values)
            ax.errorbar([x + 0.3], [ci["mean"]], yerr=[[ci["mean"] - ci["low"]], [ci["high"] - ci["mean"]]],
                        fmt="o", color="black", capsize=4)  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(order)), order, rotation=20)
        ax.set_ylabel(f"change in {key} (points)")
        ax.set_title(f"{key}: one dot per seed, black = mean and 95 % interval")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_report(root: Path) -> tuple[dict, str]:
    """``efficacy.json``'s content and ``efficacy.md``'s text from the finished runs under ``root``."""
    runs = collect(root)
    if not runs:
        raise ProtocolError(f"no finished run under {root} (expected seed*/<variant>/summary.json)")
    order = [v for v in VARIANTS if v in runs] + sorted(v for v in runs if v not in VARIANTS)
    table = summarize(runs)
    rules = rule_regrets(runs)
    report = {
        "variants": table,
        "goals": goals(runs, table),
        "selection_rules": rules,
        "runs": {name: {str(s): r for s, r in runs[name].items()} for name in order},
    }
    rule_lines = ["", "| label-free rule | runs | mean regret (pass@1 points, 95 % CI) |", "|---|---|---|"]
    rule_lines += [
        f"| {rule} | {ci['n']} | {100 * ci['mean']:.1f} [{100 * ci['low']:.1f}, {100 * ci['high']:.1f}] |"
        for rule, ci in rules.items()
    ]
    text = markdown(table, order) + "\n".join(rule_lines) + "\n"
    if report["goals"]:
        text += "\n" + goals_markdown(report["goals"], seeds=table[DEMO_DEFAULT]["seeds"])
    return report, text


README_BLOCK = re.compile(r"(<!-- efficacy: (?P<dir>\S+) -->\n)(?P<body>.*?)(<!-- /efficacy -->)", re.S)


def refresh_readme(readme: Path, repo: Path) -> list[str]:
    """Rewrite each ``<!-- efficacy: DIR -->`` ... ``<!-- /efficacy -->`` block of ``readme`` from DIR's runs.

    The README's tables are then the kept runs' report, never a hand copy; returns the folders refreshed.
    """
    folders: list[str] = []

    def body(match: re.Match) -> str:
        folders.append(match["dir"])
        return match[1] + build_report(repo / match["dir"])[1] + match[4]

    readme.write_text(README_BLOCK.sub(body, readme.read_text()))
    return folders


def write_report(root: Path) -> dict:
    report, text = build_report(root)
    (root / "efficacy.json").write_text(json.dumps(report, indent=2) + "\n")
    (root / "efficacy.md").write_text(text)
    figure(report["runs"], list(report["runs"]), root / "efficacy.png")  # seed keys as text: figure reads values only
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Other flags go to the demo.")
    parser.add_argument("--seeds", default="0-9", help="seeds to run, e.g. 0-9 or 100-104,110 (default 0-9)")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"known: {', '.join(VARIANTS)}")
    parser.add_argument("--variant", action="append", default=[], help="NAME=FLAGS, an extra variant")
    parser.add_argument("--output_dir", default="outputs/efficacy")
    parser.add_argument("--eval_every", type=int, default=25, help="labelled evaluation every N TTRL steps")
    parser.add_argument("--report", metavar="DIR", help="only (re)write the tables and figure of DIR")
    parser.add_argument(
        "--readme", metavar="FILE", help="only rewrite FILE's '<!-- efficacy: DIR -->' blocks from DIR's runs"
    )
    known, common = parser.parse_known_args(argv)
    try:
        if known.readme:
            readme = Path(known.readme)
            folders = refresh_readme(readme, readme.resolve().parent)
            print(f"efficacy: {readme}: refreshed {', '.join(folders) or 'no block (none marked)'}")
            return 0
        if known.report:
            report = write_report(Path(known.report))
            print((Path(known.report) / "efficacy.md").read_text())
            return 0 if report else 1
        if known.eval_every < 1:
            raise ProtocolError(
                f"--eval_every must be >= 1 (checkpoints are compared at those steps); got {known.eval_every}"
            )
        seeds = parse_seeds(known.seeds)
        variants = parse_variants(known.variants, known.variant)
        common = ["--threads", "1", *common, "--eval_every", str(known.eval_every)]
        root = Path(known.output_dir)
        root.mkdir(parents=True, exist_ok=True)
        run(seeds, variants, shlex.split(shlex.join(common)), root)
    except ProtocolError as err:
        print(f"efficacy: {err}", file=sys.stderr)
        return 2
    print((root / "efficacy.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
