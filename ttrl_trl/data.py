"""Benchmark and dataset loading, and the one prompt that training and evaluation share.

TTRL trains on the unlabelled test questions and evaluates on the same questions, so both sides
must see the same prompt and the same parsing of the answer column; this module is that single
place. A dataset is named in one of three ways:

* a benchmark name (``BENCHMARKS``): ``aime24``, ``amc`` and ``math500`` read the official TTRL
  files shipped in ``ttrl_trl/benchmark_data/`` (offline; the files the paper's results come from;
  see NOTICE there), ``aime25`` the Hub dataset ``math-ai/aime25``; ``<data_dir>/<name>.json``,
  when ``data_dir`` holds it, overrides both;
* a local ``.json`` / ``.jsonl`` / ``.parquet`` file (the official TTRL layout included);
* any other Hub dataset id (``HuggingFaceH4/aime_2024`` for the Hub copy of AIME 2024).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, load_dataset

DEFAULT_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
PROBLEM_COLUMN_CANDIDATES = ("problem", "prompt", "question")
ANSWER_COLUMN_CANDIDATES = ("answer", "solution_answer", "final_answer")
LOCAL_FORMATS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}
BENCHMARK_DATA_DIR = Path(__file__).resolve().parent / "benchmark_data"
"""The official TTRL test files (MIT, PRIME-RL/TTRL), package data, so the benchmark names work offline."""
TTRL_LAYOUT = "[{prompt, answer, source, id}]"
ANSWER_TEXT = "_ttrl_answer_text"


class DatasetError(ValueError):
    """A dataset that cannot be used as asked; the message names the field and the fix."""


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark: the shipped file when there is one, else the Hub dataset (its split and columns).

    ``hub_id`` is also the Hub copy of a shipped benchmark (``--dataset <hub_id>`` loads it
    instead); its rows may differ from the official file's in wording and order.
    """

    hub_id: str
    split: str
    problem_column: str
    answer_column: str
    shipped_file: str | None = None

    @property
    def shipped_path(self) -> Path | None:
        return BENCHMARK_DATA_DIR / self.shipped_file if self.shipped_file else None


BENCHMARKS: dict[str, Benchmark] = {
    "aime24": Benchmark("HuggingFaceH4/aime_2024", "train", "problem", "answer", "aime24.json"),
    "amc": Benchmark("AI-MO/aimo-validation-amc", "train", "problem", "answer", "amc.json"),
    "math500": Benchmark("HuggingFaceH4/MATH-500", "test", "problem", "answer", "math500.json"),
    # math-ai/aime25 holds one file, test.jsonl, so its only split is "test"; its rows carry `problem`,
    # `answer` and `id` (as public evaluation code reads them: load_dataset("math-ai/aime25", split="test"),
    # row["problem"], row["answer"]). Not shipped: no licence to redistribute it.
    "aime25": Benchmark("math-ai/aime25", "test", "problem", "answer"),
}


NO_SYSTEM_PROMPT = ("", "none", "null")
"""Values of ``--system_prompt`` (any case) that mean "send the question alone"."""


def system_prompt_text(system_prompt: str | None) -> str | None:
    """The system message an option asks for, or None for none.

    A command line cannot pass ``None``, so ``none`` / ``null`` / ``""`` stand for it; turning
    them into "no message" here (and only here) keeps training and evaluation on the same prompt.
    """
    if system_prompt is None or system_prompt.strip().lower() in NO_SYSTEM_PROMPT:
        return None
    return system_prompt


def build_prompt(problem: str, system_prompt: str | None = DEFAULT_SYSTEM_PROMPT) -> list[dict[str, str]]:
    """The conversational prompt for one problem: the problem as the user turn.

    The system message is the Qwen2.5-Math default. Sending it explicitly gives the same text
    for Qwen2.5-Math (whose template would insert it) and the right instruction for models whose
    template has no such default. ``None``, ``"none"`` or ``""`` sends the problem alone.
    """
    text = system_prompt_text(system_prompt)
    messages = [{"role": "system", "content": text}] if text else []
    messages.append({"role": "user", "content": problem})
    return messages


def _pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], field: str) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DatasetError(
                f"Column {wanted!r} (set by `{field}`) is not in the dataset; its columns are {columns}. "
                f"Pass `--{field} <column>` with one of them."
            )
        return wanted
    return next((c for c in candidates if c in columns), None)


def _has_content(path: Path, chunk_bytes: int = 1 << 16) -> bool:
    """Whether the file holds anything but whitespace (datasets dies with StopIteration on such a file)."""
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            if chunk.strip():
                return True
    return False


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Local files load and map in a blink; their bars would only clutter the output (and error output)."""
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def json_syntax_error(path: Path) -> str | None:
    """Where a ``.json`` / ``.jsonl`` file stops being valid JSON, as "line N, column C: reason" (1-based),
    or None when it parses. Run only after ``datasets`` failed: its pyarrow errors count rows from zero,
    by byte position, or not at all, and come with a 70-line traceback.

    A ``.json`` file may be one JSON document (a list of rows) or JSON Lines, as ``datasets`` reads both.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    document_error = None
    if path.suffix == ".json":
        try:
            json.loads(text)
            return None
        except json.JSONDecodeError as err:
            document_error = f"line {err.lineno}, column {err.colno}: {err.msg}"
        if text.lstrip().startswith("["):
            return document_error
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError as err:
            # A .json file that is one multi-line object fails on its first line: the document's error says more.
            return document_error if document_error and number == 1 else f"line {number}, column {err.colno}: {err.msg}"
    return None


def _load_local(path: Path) -> Dataset:
    if not _has_content(path):
        raise DatasetError(f"Dataset file {str(path)!r} is empty: there is nothing to train or evaluate on.")
    try:
        with _no_progress_bars():
            return load_dataset(LOCAL_FORMATS[path.suffix], data_files=str(path), split="train")
    except Exception as err:  # pyarrow / datasets errors, some of them not ValueErrors
        if "no data" in str(err):  # datasets says "corresponds to no data" for an empty list
            raise DatasetError(f"Dataset file {str(path)!r} is empty: there is nothing to train or evaluate on.") from err
        where = json_syntax_error(path) if LOCAL_FORMATS[path.suffix] == "json" else None
        if where:
            raise DatasetError(f"Dataset file {str(path)!r} is not valid JSON at {where}; fix or remove that line.") from err
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DatasetError(f"Could not read {str(path)!r} as {LOCAL_FORMATS[path.suffix]}: {reason}") from err


def benchmark_file(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The local file a benchmark name reads: ``<data_dir>/<name>.json`` when it exists, else the shipped
    copy; None for a Hub-only benchmark (or an unknown name)."""
    bench = BENCHMARKS.get(name.lower())
    if bench is None:
        return None
    if data_dir is not None:
        local = Path(data_dir).expanduser() / f"{name.lower()}.json"
        if local.is_file():
            return local
    return bench.shipped_path


@contextmanager
def _quiet_hub_retries() -> Iterator[None]:
    """huggingface_hub logs each retry (5 over ~24 s without network); a failed load ends in our one line."""
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_logger.setLevel(level)


def _hub_unreachable(err: BaseException) -> str | None:
    """Why the Hub could not be asked (offline mode, no network), or None for any other failure."""
    from datasets import config

    if config.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set"
    chain = [err, err.__cause__, err.__context__]
    if any(isinstance(e, ConnectionError | TimeoutError) for e in chain if e is not None):
        return "no network"
    return None


def _load_hub(dataset: str, bench: Benchmark | None, split: str | None) -> Dataset:
    """A Hub dataset (the local cache first, as ``datasets`` does); any failure becomes one line saying what to do."""
    hub_id = bench.hub_id if bench else dataset
    local_hint = (
        f"or pass a local file in the TTRL layout {TTRL_LAYOUT} (or any .json/.jsonl/.parquet with a problem and an "
        f"answer column): `--dataset path/to/{dataset.lower() if bench else 'data'}.json`."
    )
    try:
        with _quiet_hub_retries():
            return load_dataset(hub_id, split=split or (bench.split if bench else "train"))
    except Exception as err:  # offline, gated, misspelt: say what to do instead
        unreachable = _hub_unreachable(err)
        if unreachable:
            raise DatasetError(
                f"dataset {dataset!r} is the Hub dataset {hub_id!r}, which is not in the local cache, and the Hub "
                f"cannot be reached ({unreachable}). Download it once with network access (run the same command "
                f"online; datasets keeps a copy in its cache), {local_hint}"
            ) from err
        detail = " ".join(f"{type(err).__name__}: {err}".split())
        raise DatasetError(
            f"Could not load dataset {dataset!r} (Hub id {hub_id!r}): {detail[:300]}. Check the id and your access "
            f"to it, {local_hint}"
        ) from err


def _load_raw(dataset: str, split: str | None, data_dir: str | Path | None) -> tuple[Dataset, Benchmark | None]:
    path = Path(dataset).expanduser()
    if path.suffix in LOCAL_FORMATS:
        if not path.is_file():
            raise DatasetError(f"`dataset` points at {str(path)!r}, which does not exist.")
        return _load_local(path), None
    bench = BENCHMARKS.get(dataset.lower())
    if bench is None and "/" not in dataset:
        raise DatasetError(
            f"Unknown dataset {dataset!r}: not a benchmark name ({', '.join(BENCHMARKS)}), not a local "
            f".json/.jsonl/.parquet file, and not a Hub id (owner/name)."
        )
    local = benchmark_file(dataset, data_dir) if bench else None
    if local is not None:
        return _load_local(local), None
    return _load_hub(dataset, bench, split), bench


def load_problems(
    dataset: str,
    split: str | None = None,
    problem_column: str | None = None,
    answer_column: str | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    require_answer: bool = False,
    data_dir: str | Path | None = None,
    max_problems: int | None = None,
) -> Dataset:
    """Load a benchmark as a dataset with ``problem``, conversational ``prompt`` and, if known, ``answer``.

    The answer column is optional for training (TTRL never rewards with it; it is only logged)
    and required for evaluation (``require_answer=True``). Answers are kept as strings, so AMC's
    floats (``142.0``) reach the grader as text.
    """
    raw, bench = _load_raw(dataset, split, data_dir)
    columns = list(raw.column_names)
    problem_col = _pick_column(
        columns, problem_column or (bench.problem_column if bench and bench.problem_column in columns else None),
        PROBLEM_COLUMN_CANDIDATES, "problem_column",
    )
    if problem_col is None:
        raise DatasetError(
            f"Dataset {dataset!r} has no problem column (looked for {list(PROBLEM_COLUMN_CANDIDATES)}); its columns "
            f"are {columns}. Pass `--problem_column <column>`."
        )
    answer_col = _pick_column(columns, answer_column, ANSWER_COLUMN_CANDIDATES, "answer_column")
    if require_answer and answer_col is None:
        raise DatasetError(
            f"Dataset {dataset!r} has no answer column (looked for {list(ANSWER_COLUMN_CANDIDATES)}); its columns "
            f"are {columns}. Evaluation needs gold answers: pass `--answer_column <column>`."
        )
    if len(raw) == 0:
        raise DatasetError(f"Dataset {dataset!r} is empty: there is nothing to train or evaluate on.")
    if max_problems is not None:
        raw = raw.select(range(min(max_problems, len(raw))))

    def to_row(example: dict[str, Any]) -> dict[str, Any]:
        value = example[problem_col]
        if isinstance(value, list):  # already conversational: keep as is, take the last user turn as text
            prompt, problem = value, next(m["content"] for m in reversed(value) if m["role"] == "user")
        else:
            prompt, problem = build_prompt(str(value), system_prompt), str(value)
        row = {"problem": problem, "prompt": prompt}
        if answer_col is not None:
            answer = example[answer_col]
            row[ANSWER_TEXT] = None if answer is None else str(answer)
        return row

    keep = {"id", "source"} & set(columns)
    with _no_progress_bars():
        rows = raw.map(to_row, remove_columns=[c for c in columns if c not in keep])
    # Written under a new name: `map` would cast a returned "answer" back to the input column's type (int, float).
    return rows.rename_column(ANSWER_TEXT, "answer") if answer_col is not None else rows
