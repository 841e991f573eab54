"""Chunked generation that saves each graded chunk, so an interrupted run resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.generation import GenerateFn
from ttrl_trl.evaluation.scoring import check_shape, score_problem

PARTIAL_FILE = "generations.partial.jsonl"
"""Problems scored so far, appended chunk by chunk; a rerun with the same settings resumes from it.
One written with other settings is kept as ``generations.partial.<settings hash>.jsonl``."""


class EvalInterrupted(KeyboardInterrupt):
    """Ctrl-C during generation, with what was kept: the CLI turns it into one line, not a traceback."""

    def __init__(self, kept: int, total: int, partial: Path) -> None:
        super().__init__(
            f"interrupted: {kept} of {total} problems kept in {partial}; rerun the same command to resume."
            if kept
            else "interrupted before the first chunk was scored; nothing was kept."
        )
        self.kept, self.total, self.partial = kept, total, partial


def chunk_size(config: EvalConfig, backend: str) -> int:
    """Problems per generation call: each chunk is saved before the next starts. vLLM batches
    best over many prompts at once, so it gets larger chunks."""
    return max(config.batch_size, 64) if backend == "vllm" else config.batch_size


def _read_partial(path: Path) -> list[dict[str, Any]]:
    """The header and the records of a partial file, up to a line cut short by the interruption."""
    parsed = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return parsed


def _settings_key(header: Mapping[str, Any]) -> str:
    return hashlib.sha1(json.dumps(header, sort_keys=True).encode()).hexdigest()[:10]


def _set_aside_path(path: Path, header: Mapping[str, Any]) -> Path:
    """Where a partial file written with other settings is kept: its name carries those settings' hash."""
    return path.with_name(f"{path.name.removesuffix('.jsonl')}.{_settings_key(header)}.jsonl")


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys) or "unreadable header"


def _load_partial(path: Path, header: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Records of an interrupted run with exactly this header (same settings), else none.

    A partial file written with other settings is never discarded: it is renamed after its
    settings (and said so), and a file set aside earlier for these settings is taken back.
    """
    header = json.loads(json.dumps(header))
    if path.is_file():
        parsed = _read_partial(path)
        if parsed and parsed[0] == header:
            return parsed[1:]
        old = parsed[0] if parsed and isinstance(parsed[0], dict) else {}
        if len(parsed) > 1:
            kept = _set_aside_path(path, old)
            path.replace(kept)
            print(
                f"set aside {len(parsed) - 1} problems of an interrupted run with other settings "
                f"({_differences(old.get('settings', {}), header['settings'])}) as {kept}; "
                f"rerun with those settings to resume it.",
                file=sys.stderr,
            )
    earlier = _set_aside_path(path, header)
    if earlier.is_file():
        earlier.replace(path)
        return _read_partial(path)[1:]
    return []


def generate_and_score(
    rows: Sequence[Mapping[str, Any]],
    generate_fn: GenerateFn,
    config: EvalConfig,
    settings: Mapping[str, Any],
    output_dir: Path,
    chunk: int,
) -> list[dict[str, Any]]:
    """Generate and grade chunk by chunk, appending each chunk to ``generations.partial.jsonl``.

    An interrupted evaluation loses at most one chunk: rerunning the same command resumes after
    the last saved problem. Each chunk is seeded with ``seed + index of its first problem``, so a
    resumed transformers run gives the same samples as an uninterrupted one.
    """
    from tqdm.auto import tqdm
    from transformers import set_seed

    partial = output_dir / PARTIAL_FILE
    header = {"settings": dict(settings) | {"num_samples": config.num_samples}}
    records = _load_partial(partial, header)
    if records:
        print(f"resuming: {len(records)} of {len(rows)} problems already in {partial}")
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(header, ensure_ascii=False) + "\n", encoding="utf-8")
    try:
        with tqdm(total=len(rows), initial=len(records), desc="evaluating", unit="problem") as bar:
            for start in range(len(records), len(rows), chunk):
                batch = rows[start : start + chunk]
                set_seed(config.seed + start)
                completions = generate_fn([row["prompt"] for row in batch])
                check_shape(completions, len(batch), config.num_samples)
                scored = [score_problem(row, texts, config) for row, texts in zip(batch, completions)]
                with partial.open("a", encoding="utf-8") as f:
                    f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in scored)
                records += scored
                bar.update(len(batch))
    except KeyboardInterrupt as err:
        raise EvalInterrupted(max(len(_read_partial(partial)) - 1, 0), len(rows), partial) from err
    return records
