"""The demo's synthetic math task: two-digit addition written as a scratchpad.

A problem is ``47+38=``; its worked solution adds the digits from the least significant one,
carrying as a person does on paper, and ends with the answer in ``\\boxed{}``::

    47+38=  ->  7+8=15;4+3+1=8;\\boxed{85}

A tiny model cannot learn ``a+b`` in one token, but it can learn this digit-by-digit procedure in a
minute of CPU time, and the procedure generalises to pairs it never saw.

To make the warmed-up model *partly* competent (the right answer is its most likely one, but far
from certain) the training targets are noisy: each scratchpad step is off by one with
probability ``eps``, and the rest of the solution follows the wrong step consistently, so the
boxed answer is wrong too. The model learns that noise as uncertainty, which is what TTRL then
removes, without ever seeing a label.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# Every ordered pair of two-digit numbers: 90 * 90 = 8,100 problems.
ALL_PAIRS = [(a, b) for a in range(10, 100) for b in range(10, 100)]


def problem_text(a: int, b: int) -> str:
    """The user turn: ``47+38=``."""
    return f"{a}+{b}="


def solution_text(a: int, b: int, eps: float = 0.0, rng: random.Random | None = None) -> str:
    """The scratchpad for ``a+b``; with ``eps > 0`` each step is off by one with probability ``eps``.

    >>> solution_text(47, 38)
    '7+8=15;4+3+1=8;\\\\boxed{85}'
    """
    rng = rng or random.Random(0)

    def noisy(value: int) -> int:
        if eps > 0 and rng.random() < eps:
            value += rng.choice((-1, 1))
        return max(value, 0)

    units = noisy(a % 10 + b % 10)  # 7+8=15 (or 14 / 16 with noise)
    carry = units // 10
    tens = noisy(a // 10 + b // 10 + carry)  # 4+3+1=8
    tens_step = f"{a // 10}+{b // 10}+{carry}" if carry else f"{a // 10}+{b // 10}"
    answer = tens * 10 + units % 10
    return f"{a % 10}+{b % 10}={units};{tens_step}={tens};\\boxed{{{answer}}}"


def split_pairs(num_test: int, seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Shuffle all pairs with ``seed`` and hold out ``num_test`` of them: (train pairs, test pairs).

    The test pairs are never seen during the warm-up; TTRL then trains on their questions only.
    """
    pairs = list(ALL_PAIRS)
    random.Random(seed).shuffle(pairs)
    return pairs[num_test:], pairs[:num_test]


def write_problems(pairs: list[tuple[int, int]], path: str | Path) -> Path:
    """Write problems as a JSON list of ``{"problem", "answer"}``, the layout ``data.load_problems`` reads.

    The answer is kept only to *measure* (evaluation, TTRL's logged label accuracy); TTRL's reward
    never uses it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"problem": problem_text(a, b), "answer": str(a + b)} for a, b in pairs]
    path.write_text(json.dumps(rows, indent=0))
    return path
