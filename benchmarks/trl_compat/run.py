"""Run TRL's own GRPO trainer tests, offline, against ``GRPOTrainer`` and against ``TTRLTrainer``.

    python benchmarks/trl_compat/run.py --trl-repo /work/.mirror/huggingface+trl/repo   # a git dir (fetch)
    python benchmarks/trl_compat/run.py --test-file ~/trl/tests/test_grpo_trainer.py   # a checkout

Steps: copy TRL's ``tests/test_grpo_trainer.py``, ``testing_utils.py``, ``conftest.py`` and
``scripts/generate_zen_dataset.py`` into ``<out>/trl-src``; build the offline stand-ins
(``standins.py``); run the test file once per trainer (for ``ttrl`` the single line
``from trl import GRPOConfig, GRPOTrainer`` is rewritten to import ``ttrl_drop_in``); write
``<out>/report.json``: counts per trainer, skip reasons, every test's outcome under both trainers
and the TTRL-only failures with their exception and location. ``-k`` selects tests as pytest does.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TEST_FILE = "tests/test_grpo_trainer.py"
TRL_FILES = (TEST_FILE, "tests/testing_utils.py", "tests/conftest.py", "scripts/generate_zen_dataset.py")
TRL_IMPORT = "from trl import GRPOConfig, GRPOTrainer\n"
# TTRL-only failures that are TTRL's design, not a drop-in defect: reported apart from the others.
BY_DESIGN = {
    "TestGRPOTrainer::test_no_reward_source_raises": (
        "TTRLTrainer always has the majority-vote reward, so TRL's 'No reward source provided' check never fires"
    ),
    "TestGRPOTrainer::test_correct_reward_processing_classes_list": (
        "reward_processing_classes holds one entry per reward function, the TTRL vote's (None) first, as reward_funcs"
    ),
    "TestGRPOTrainer::test_single_reward_model_with_single_processing_class": (
        "reward_processing_classes holds one entry per reward function, the TTRL vote's (None) first, as reward_funcs"
    ),
}
DROP_IN_IMPORT = "from ttrl_drop_in import GRPOConfig, GRPOTrainer  # harness: TTRLTrainer as GRPOTrainer\n"


def copy_trl_sources(args: argparse.Namespace, dest: Path) -> str:
    """TRL's files into ``dest``; returns a description of where they came from."""
    for rel in TRL_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
    if args.trl_repo:
        commit = subprocess.run(
            ["git", "--git-dir", args.trl_repo, "rev-parse", args.ref], check=True, capture_output=True, text=True
        ).stdout.strip()
        for rel in TRL_FILES:
            text = subprocess.run(
                ["git", "--git-dir", args.trl_repo, "show", f"{commit}:{rel}"], check=True, capture_output=True
            ).stdout
            (dest / rel).write_bytes(text)
        version = subprocess.run(
            ["git", "--git-dir", args.trl_repo, "show", f"{commit}:VERSION"], capture_output=True, text=True
        ).stdout.strip()
        return f"{args.trl_repo} @ {commit} (VERSION {version or 'unknown'})"
    root = Path(args.test_file).resolve().parents[1]
    for rel in TRL_FILES:
        shutil.copy(root / rel, dest / rel)
    return str(Path(args.test_file).resolve())


def prepare_suite(src: Path, folder: Path, trainer: str) -> Path:
    """A test package ``folder/tests`` holding TRL's files (the import rewritten for ``ttrl``)."""
    tests = folder / "tests"
    if tests.exists():
        shutil.rmtree(tests)
    tests.mkdir(parents=True)
    (tests / "__init__.py").write_text("")
    for name in ("testing_utils.py", "conftest.py"):
        shutil.copy(src / "tests" / name, tests / name)
    text = (src / TEST_FILE).read_text()
    if trainer == "ttrl":
        if TRL_IMPORT not in text:
            raise SystemExit(f"error: {TEST_FILE} no longer has the line {TRL_IMPORT.strip()!r}; update run.py")
        text = text.replace(TRL_IMPORT, DROP_IN_IMPORT, 1)
    (tests / "test_grpo_trainer.py").write_text(text)
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow\nfilterwarnings =\n    ignore\n")
    return tests / "test_grpo_trainer.py"


def run_suite(test_file: Path, out: Path, hub: Path, trainer: str, selection: str | None) -> dict:
    results = out / f"results-{trainer}.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_CACHE": str(hub),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TRL_COMPAT_ZEN": str(out / "zen"),
        "TRL_COMPAT_RESULTS": str(results),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "TOKENIZERS_PARALLELISM": "false",
        "WANDB_DISABLED": "true",
    }
    cmd = [sys.executable, "-m", "pytest", "-p", "plugin", "-q", "-p", "no:cacheprovider", str(test_file)]
    if selection:
        cmd += ["-k", selection]
    start = time.perf_counter()
    log = out / f"pytest-{trainer}.log"
    with log.open("w") as handle:
        subprocess.run(cmd, cwd=test_file.parents[1], env=env, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    tests = json.loads(results.read_text()) if results.is_file() else {}
    print(f"{trainer}: {dict(collections.Counter(t.get('outcome') for t in tests.values()))} in {seconds:.0f} s")
    return {"seconds": round(seconds, 1), "log": str(log), "tests": tests}


def summarise(runs: dict[str, dict], source: str) -> dict:
    names = sorted(set().union(*(run["tests"] for run in runs.values())))
    report: dict = {"trl_tests": source, "trainers": {}, "tests": {}}
    for trainer, run in runs.items():
        outcomes = collections.Counter(t.get("outcome", "unknown") for t in run["tests"].values())
        skips = collections.Counter(
            t.get("reason", "").split(":")[0].strip() or "unknown"
            for t in run["tests"].values()
            if t.get("outcome") == "skipped"
        )
        report["trainers"][trainer] = {
            "counts": dict(outcomes),
            "skip_reasons": dict(skips),
            "seconds": run["seconds"],
        }
    for name in names:
        report["tests"][name] = {trainer: run["tests"].get(name, {}) for trainer, run in runs.items()}
    if {"grpo", "ttrl"} <= runs.keys():
        ttrl_only = {
            name: outcome["ttrl"]
            for name, outcome in report["tests"].items()
            if outcome["grpo"].get("outcome") == "passed" and outcome["ttrl"].get("outcome") in ("failed", "error")
        }
        report["ttrl_only_failures"] = {n: f for n, f in ttrl_only.items() if n not in BY_DESIGN}
        report["ttrl_only_by_design"] = {n: {**f, "why": BY_DESIGN[n]} for n, f in ttrl_only.items() if n in BY_DESIGN}
        passed = [n for n, o in report["tests"].items() if o["grpo"].get("outcome") == "passed"]
        report["summary"] = {
            "passed_grpo": len(passed),
            "passed_ttrl_of_those": sum(report["tests"][n]["ttrl"].get("outcome") == "passed" for n in passed),
            "passed_ttrl": sum(o["ttrl"].get("outcome") == "passed" for o in report["tests"].values()),
            "ttrl_only_failures": len(report["ttrl_only_failures"]),
            "ttrl_only_by_design": len(report["ttrl_only_by_design"]),
        }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trl-repo", help="TRL git directory (e.g. the `fetch` mirror); files read with git show")
    source.add_argument("--test-file", help="tests/test_grpo_trainer.py inside a TRL checkout")
    parser.add_argument("--ref", default="HEAD", help="commit or tag to read from --trl-repo")
    parser.add_argument("--trainers", nargs="+", default=["grpo", "ttrl"], choices=["grpo", "ttrl"])
    parser.add_argument("-k", dest="selection", help="pytest -k expression")
    parser.add_argument(
        "--qwen-vocab",
        action="store_true",
        help="Qwen stand-ins with Qwen's 151936-token vocabulary and special ids (tests hard-coding them; ~10x slower)",
    )
    parser.add_argument("--output_dir", default=str(REPO / "outputs" / "trl_compat"))
    args = parser.parse_args(argv)

    out = Path(args.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source_desc = copy_trl_sources(args, out / "trl-src")

    sys.path.insert(0, str(HERE))
    from standins import build_hub_cache, build_zen

    hub = out / ("hub-qwen-vocab" if args.qwen_vocab else "hub")
    failed = build_hub_cache(hub, qwen_vocab=args.qwen_vocab)
    if failed:
        print(f"stand-ins that could not be built (their tests skip): {failed}")
    if not (out / "zen" / "standard_prompt_only").is_dir():
        build_zen(out / "trl-src" / "scripts" / "generate_zen_dataset.py", out / "zen")

    runs = {}
    for trainer in args.trainers:
        test_file = prepare_suite(out / "trl-src", out / trainer, trainer)
        runs[trainer] = run_suite(test_file, out, hub, trainer, args.selection)
    report = summarise(runs, source_desc)
    report["standins_failed"] = failed
    report["qwen_vocab"] = args.qwen_vocab
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({"trainers": report["trainers"], "summary": report.get("summary")}, indent=1))
    for name, failure in report.get("ttrl_only_failures", {}).items():
        print(f"TTRL only: {name}: {failure.get('reason')} [{failure.get('where')}]")
    for name, failure in report.get("ttrl_only_by_design", {}).items():
        print(f"TTRL only, by design: {name}: {failure['why']}")
    print(f"report: {out / 'report.json'}")


if __name__ == "__main__":
    main()
