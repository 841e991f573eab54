"""pytest plugin (``-p plugin``) that runs TRL's GRPO tests offline and records every outcome.

* Hub models resolve to the stand-ins through ``HF_HUB_CACHE`` (set by ``run.py``); ``load_dataset``
  of ``trl-internal-testing/zen`` reads the stand-in rebuilt from TRL's generator script.
* Tests that need what this machine cannot offer are skipped at collection, with the reason:
  images (vision-language models, image datasets), remote code, any Hub id without a stand-in.
  TRL's own markers skip the vLLM, GPU, liger-kernel, bitsandbytes and kernels tests.
* Each test's outcome and, for a failure, the exception line and the innermost frame in
  ``trl`` / ``ttrl_trl`` / the test file are written to ``$TRL_COMPAT_RESULTS`` (JSON).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
from pathlib import Path

import datasets
import pytest
from trl import import_utils as trl_import_utils

HUB_ID = re.compile(r"trl-internal-testing/[A-Za-z0-9._-]+")
IMAGE_HINTS = ("ForConditionalGeneration", "zen-image", "zen-multi-image")
ZEN = "trl-internal-testing/zen"

_results: dict[str, dict[str, str]] = {}


def _available_models() -> set[str]:
    cache = Path(os.environ["HF_HUB_CACHE"])
    available = set()
    for snapshot in cache.glob("models--*/snapshots/*"):
        if (snapshot / "config.json").is_file():
            available.add(snapshot.parent.parent.name.removeprefix("models--").replace("--", "/", 1))
    return available


def _offline_load_dataset(path, name=None, split=None, streaming=False, **kwargs):
    """``trl-internal-testing/zen`` from disk; any other Hub dataset skips the test (no network here)."""
    if path != ZEN:
        reason = "images" if any(h in str(path) for h in IMAGE_HINTS) else "network"
        pytest.skip(f"{reason}: dataset {path} has no offline stand-in")
    data = datasets.load_from_disk(str(Path(os.environ["TRL_COMPAT_ZEN"]) / (name or "standard_prompt_only")))
    if streaming:
        data = datasets.IterableDatasetDict({k: v.to_iterable_dataset() for k, v in data.items()})
    return data if split is None else data[split]


datasets.load_dataset = _offline_load_dataset  # before the test module binds the name

# The test file's `testing_utils.py` may ask trl for availability checks the installed trl lacks
# (TRL's main branch adds them; trl 1.16 has no `is_joblib_available`): provide them, same meaning.
for _package in ("joblib",):
    if not hasattr(trl_import_utils, f"is_{_package}_available"):
        setattr(
            trl_import_utils, f"is_{_package}_available", lambda p=_package: importlib.util.find_spec(p) is not None
        )


def _skip_reason(item: pytest.Item, available: set[str]) -> str | None:
    source = inspect.getsource(item.function)
    body = source[source.index("def ") :]  # parametrize lists belong to other items; callspec has ours
    params = json.dumps(getattr(getattr(item, "callspec", None), "params", {}), default=str)
    missing = sorted({i for i in HUB_ID.findall(body + params) if i != ZEN and i not in available})
    if not missing:
        return None
    if any(h in m for m in missing for h in IMAGE_HINTS):
        return f"images: {', '.join(missing)}"
    if any("Remote" in m for m in missing):
        return f"network (remote code): {', '.join(missing)}"
    return f"network (no offline stand-in): {', '.join(missing)}"


def pytest_collection_modifyitems(config, items):
    available = _available_models()
    for item in items:
        reason = _skip_reason(item, available)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _failure(report: pytest.TestReport) -> dict[str, str]:
    """The exception line and the innermost frame in TRL, ttrl_trl or the test, for the report."""
    longrepr = report.longrepr
    message = getattr(getattr(longrepr, "reprcrash", None), "message", None) or str(longrepr)
    where = ""
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", [])
    for entry in entries:
        loc = getattr(entry, "reprfileloc", None)
        if loc and any(k in loc.path for k in ("/trl/", "ttrl_trl", "test_grpo_trainer")):
            where = f"{loc.path.split('site-packages/')[-1]}:{loc.lineno}"
    return {"reason": message.strip().splitlines()[0][:400] if message.strip() else "", "where": where}


def _skip_text(report: pytest.TestReport) -> str:
    return str(report.longrepr[-1]).removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid.split("::", 1)[-1], {})
    if report.when == "setup" and report.skipped:
        entry.update(outcome="skipped", reason=_skip_text(report))
    elif report.when == "call":
        if hasattr(report, "wasxfail"):
            entry.update(outcome="xfailed" if report.skipped else "xpassed", reason=report.wasxfail)
        elif report.skipped:
            entry.update(outcome="skipped", reason=_skip_text(report))
        else:
            entry.update(outcome=report.outcome)
            if report.failed:
                entry.update(_failure(report))
        entry["seconds"] = round(report.duration, 2)
    elif report.failed:  # setup or teardown error
        entry.update(outcome="error", **_failure(report))


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("TRL_COMPAT_RESULTS")
    if path:
        Path(path).write_text(json.dumps(_results, indent=1, sort_keys=True))
