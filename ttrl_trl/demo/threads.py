"""How many torch threads the demo uses: ``--threads auto`` measures instead of assuming an idle machine.

On the demo's two-core target, two threads are about 1.5x faster than one when the machine is idle,
but many times slower when another job holds a core: every small matrix product then waits for a
thread that is not running (a 38-minute demo against 5 minutes with one thread). ``auto`` therefore
picks 1 when the load average already shows a busy core, else times the demo's own model shape
with one and with two threads, interleaved, and picks 2 only when that is clearly faster.

The choice changes floating-point order, so a given seed gives the same figures only for the same
thread count: the demo records the count it used (``summary.json``: ``threads``), and a fixed
``--threads 1`` or ``--threads 2`` is what makes two runs comparable.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

CLEARLY_FASTER = 1.2
"""Two threads are used only when they take at most 1/1.2 of one thread's time on the probe."""


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count the demo runs with, and why (written to ``summary.json``)."""

    used: int
    reason: str


def parse_threads(value: str) -> int | None:
    """``auto`` -> None; a positive integer -> itself; anything else fails with the fix."""
    if str(value).strip().lower() == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(
            f"threads must be 'auto' or a positive integer (1 or 2 on the demo's machine); got {value!r}."
        )
    return count


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _probe_model(hidden_size: int, num_layers: int, num_heads: int):
    """A randomly initialised model of the demo's shape (no file, no seed disturbed)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=128, hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, num_key_value_heads=max(1, num_heads // 2), head_dim=hidden_size // num_heads,
        max_position_embeddings=256,
    )  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return Qwen3ForCausalLM(config).eval()


def probe_seconds(hidden_size: int, num_layers: int, num_heads: int, rounds: int = 3) -> dict[int, float]:
    """Median seconds of one forward pass over 64 rows of 32 tokens, per thread count (0.1 s or so).

    One and two threads alternate, so a load that comes and goes during the probe hits both; once two
    threads have been twice as slow as one, the probe stops (that is the busy machine's answer).
    """
    import torch

    model = _probe_model(hidden_size, num_layers, num_heads)
    batch = torch.randint(0, 128, (64, 32), generator=torch.Generator().manual_seed(0))
    before = torch.get_num_threads()
    times: dict[int, list[float]] = {1: [], 2: []}
    try:
        with torch.no_grad():
            torch.set_num_threads(1)
            model(batch)  # warm-up, untimed (a slow two-thread pass is itself the answer: see below)
            for _ in range(rounds):
                for threads in (1, 2):
                    torch.set_num_threads(threads)
                    start = time.perf_counter()
                    model(batch)
                    times[threads].append(time.perf_counter() - start)
                if times[2][-1] > 2 * times[1][-1]:
                    break
    finally:
        torch.set_num_threads(before)
    return {threads: statistics.median(values) for threads, values in times.items()}


def choose_threads(requested: str, hidden_size: int = 128, num_layers: int = 3, num_heads: int = 4) -> ThreadChoice:
    """The demo's thread count: the requested one, or for ``auto`` 1 or 2 as the module docstring says."""
    fixed = parse_threads(requested)
    if fixed is not None:
        return ThreadChoice(fixed, f"--threads {fixed}")
    cores = available_cores()
    if cores < 2:
        return ThreadChoice(1, f"auto: {cores} core available")
    load = os.getloadavg()[0]
    if cores - load < 1:
        return ThreadChoice(1, f"auto: load average {load:.1f} on {cores} cores leaves less than one idle")
    seconds = probe_seconds(hidden_size, num_layers, num_heads)
    speedup = seconds[1] / seconds[2]
    used = 2 if speedup >= CLEARLY_FASTER else 1
    verdict = "clearly faster" if used == 2 else f"not clearly faster (< {CLEARLY_FASTER}x)"
    return ThreadChoice(
        used,
        f"auto: 2 threads {speedup:.2f}x the speed of 1 on a probe of the demo's model ({verdict}; "
        f"{seconds[1] * 1000:.0f} vs {seconds[2] * 1000:.0f} ms, load average {load:.1f} on {cores} cores)",
    )
