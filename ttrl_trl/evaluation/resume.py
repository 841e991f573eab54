"""Chunked generation that saves each graded chunk, so an interrupted run resumes where it stopped."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ttrl_trl.evaluation.config import EvalConfig
from ttrl_trl.evaluation.generation import GenerateFn
from ttrl_trl.evaluation.scoring import check_shape, score_problem

PARTIAL_FILE = "generations.partial.jsonl"
"""Problems scored so far, appended chunk by chunk; a rerun with the same settings resumes from it."""


def chunk_size(config: EvalConfig, backend: str) -> int:
    """Problems per generation call: each chunk is saved before the next starts. vLLM batches
    best over many prompts at once, so it gets larger chunks."""
    return max(config.batch_size, 64) if backend == "vllm" else config.batch_size


def _load_partial(path: Path, header: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Records of an interrupted run with exactly this header (same settings), else none."""
    if not path.is_file():
        return []
    parsed = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by the interruption
            break
    if not parsed or parsed[0] != json.loads(json.dumps(header)):
        return []
    return parsed[1:]


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
    return records
