"""Time one TTRL vote: ``majority_vote`` on 64 long completions vs a naive all-pairs math-verify vote,
and one grading call: ``answers_equivalent`` vs plain ``math_verify.verify(parse(a), parse(b))``.

The naive baseline is what a first implementation would do: ``math_verify.parse`` every
completion, ``math_verify.verify`` every pair, and pick the completion with the most
equivalents. Every repeat draws a fresh problem (new answer values), and the vote's caches are
cleared before each timed vote, so no repeat is helped by the previous one. Everything runs on
one CPU core (the grading helper process inherits the pinning).

Per call: every pair of ``PAIRS`` (typical answer forms, equal and different) is graded cold
(our caches and math-verify's parse caches cleared before each call), ``--pair-repeats`` times;
ours is symmetric (both directions when the first accepts), math-verify's one direction.

    python benchmarks/voting.py --n 64 --chars 2000 --repeats 20 --baseline-repeats 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

SENTENCES = [
    "Let $x = {a}$ and $y = {b}$, so that $x + y = {c}$.",
    "We substitute into the equation and simplify both sides carefully.",
    "Multiplying through by ${a}$ gives $ {a}t = {d} $, hence $t = \\frac{{{d}}}{{{a}}}$.",
    "Note that the discriminant is $b^2 - 4ac = {e}$, which is positive.",
    "Checking the boundary case $n = {b}$ shows the bound is tight.",
    "By the AM-GM inequality, $\\frac{{u+v}}{{2}} \\ge \\sqrt{{uv}}$ with equality when $u = v$.",
    "This leaves {a} cases, and each of them contributes {b} to the total count.",
    "So far the partial sum is {c}, and the remaining terms form a geometric series.",
    "Wait, let me double-check the arithmetic: ${a} \\cdot {b} = {d}$, which is consistent.",
]


PAIRS = [
    ("\\frac{7}{2}", "3.5"),
    ("\\frac{7}{2}", "2\\sqrt{3}"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("(-\\infty, 2]", "(-\\infty,2]"),
    ("\\{1,2\\}", "1,2"),
    ("x=5", "5"),
    ("\\text{(B)}", "B"),
    ("50\\%", "0.5"),
    ("y^2 + 3y", "3y+y^2"),
    ("\\frac{\\pi}{2}", "\\frac{\\pi}{3}"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\3\\end{pmatrix}"),
    ("x \\in [-2,7]", "-2 \\le x \\le 7"),
    ("(2, 2), (6, 2)", "(6,2),(2,2)"),
    ("90^\\circ", "90"),
    ("1,000", "1000"),
    ("0.375", "3/8"),
    ("12", "13"),
    ("033", "33"),
]
"""Answer pairs for the per-call timing: fractions, radicals, intervals, sets, equations, choices,
percentages, polynomials, matrices, relations, tuples, degrees, thousands, integers."""


@dataclass(frozen=True)
class Problem:
    """One vote's completions and the value its majority answer should have."""

    completions: list[str]
    majority: Fraction
    n_majority: int


def pin_to_one_core() -> int | None:
    """Run on a single core so that timings compare like with like on a shared machine."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def reasoning(rng: random.Random, chars: int) -> str:
    """Plausible step-by-step text with inline math, about ``chars`` characters long."""
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < chars:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        sentence = rng.choice(SENTENCES).format(a=a, b=b, c=a + b, d=a * b, e=rng.randint(1, 500))
        parts.append(sentence + ("\n\n" if rng.random() < 0.2 else " "))
    return "".join(parts)[:chars]


def forms_of(value: Fraction, rng: random.Random) -> list[str]:
    """Equivalent ways a model writes the same rational answer."""
    p, q = value.numerator, value.denominator
    if q == 1:
        return [str(p), f"{p}.0", f"0{p}" if p > 0 else str(p)]
    forms = [f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}", f"\\frac{{{2 * p}}}{{{2 * q}}}"]
    decimal = p / q
    if q in (2, 4, 5, 8, 10, 20, 25):
        forms.append(f"{decimal:g}")
    rng.shuffle(forms)
    return forms


def build_problem(rng: random.Random, n: int, chars: int) -> Problem:
    """~50% majority answer in mixed forms, ~40% over four wrong answers, ~10% truncated with no
    box (math-verify's fallback then picks up a number from the reasoning, as it would in training)."""
    q = rng.choice([2, 4, 5, 8])
    p = rng.choice([k for k in range(1, 8 * q) if k % q and Fraction(k, q).denominator == q])
    majority = Fraction(p, q)
    wrong = [
        forms_of(Fraction(int(majority) + 1), rng),
        forms_of(majority + Fraction(1, q), rng),
        [f"{rng.randint(2, 5)}\\sqrt{{{rng.choice([2, 3, 5, 7])}}}"],
        forms_of(-majority, rng),
    ]
    n_majority, n_none = n // 2, max(1, n // 10)
    answers: list[str | None] = [rng.choice(forms_of(majority, rng)) for _ in range(n_majority)]
    answers += [None] * n_none
    answers += [rng.choice(rng.choice(wrong)) for _ in range(n - n_majority - n_none)]
    rng.shuffle(answers)
    completions = []
    for answer in answers:
        text = reasoning(rng, chars)
        if answer is not None:
            text = text[: chars - 60] + f" Therefore, the final answer is $\\boxed{{{answer}}}$."
        completions.append(text)
    return Problem(completions=completions, majority=majority, n_majority=n_majority)


def naive_vote(completions: Sequence[str]) -> int:
    """Index of the completion with the most equivalent others (all pairs, math-verify defaults)."""
    from math_verify import parse, verify

    parsed = [parse(text) for text in completions]
    support = [0] * len(parsed)
    for i in range(len(parsed)):
        for j in range(i + 1, len(parsed)):
            if parsed[i] and parsed[j] and verify(parsed[i], parsed[j]):
                support[i] += 1
                support[j] += 1
    return max(range(len(support)), key=lambda i: (support[i], -i))


def per_call_ms(repeats: int) -> dict[str, float]:
    """Median cold time of one grading call, ours and plain math-verify's, over ``PAIRS``."""
    from math_verify import parse, verify
    from math_verify.parser import parse_expr_cached, parse_latex_cached

    from ttrl_trl.vote import voting

    def math_verify_call(a: str, b: str) -> bool:
        return verify(parse("\\boxed{" + a + "}"), parse("\\boxed{" + b + "}"))

    ours, theirs, ours_int, theirs_int = [], [], [], []
    for _ in range(repeats):
        for a, b in PAIRS:
            voting.clear_caches()
            ms, _ = timed(lambda a=a, b=b: voting.answers_equivalent(a, b))
            ours.append(ms)
            parse_latex_cached.cache_clear()
            parse_expr_cached.cache_clear()
            ms_mv, _ = timed(lambda a=a, b=b: math_verify_call(a, b))
            theirs.append(ms_mv)
            if a.isdigit() and b.isdigit():
                ours_int.append(ms)
                theirs_int.append(ms_mv)
    return {
        "per_call_median_ms": round(statistics.median(ours), 3),
        "per_call_math_verify_median_ms": round(statistics.median(theirs), 3),
        "per_call_integers_median_ms": round(statistics.median(ours_int), 3),
        "per_call_integers_math_verify_median_ms": round(statistics.median(theirs_int), 3),
    }


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def run(args: argparse.Namespace) -> dict:
    from ttrl_trl.vote import voting

    rng = random.Random(args.seed)
    problems = [build_problem(rng, args.n, args.chars) for _ in range(max(args.repeats, args.baseline_repeats))]
    voting.majority_vote(build_problem(random.Random(-1), args.n, args.chars).completions)  # start the helper

    ours_ms, extract_ms, vote_ms, correct, distinct = [], [], [], [], []
    for problem in problems[: args.repeats]:
        voting.clear_caches()
        ms, result = timed(lambda p=problem: voting.majority_vote(p.completions))
        ours_ms.append(ms)
        gold = f"{problem.majority.numerator}/{problem.majority.denominator}"
        correct.append(voting.is_correct(result.label, gold) and sum(result.matches) == problem.n_majority)
        distinct.append(len({a for a in result.answers if a is not None}))
        voting.clear_caches()
        ms, answers = timed(lambda p=problem: [voting.extract_answer(c) for c in p.completions])
        extract_ms.append(ms)
        ms, _ = timed(lambda a=answers: voting.vote_on_answers(a))
        vote_ms.append(ms)

    naive_ms, naive_correct = [], []
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    for problem in problems[: args.baseline_repeats]:
        ms, index = timed(lambda p=problem: naive_vote(p.completions))
        naive_ms.append(ms)
        label = voting.extract_answer(problem.completions[index])
        naive_correct.append(voting.is_correct(label, f"{problem.majority.numerator}/{problem.majority.denominator}"))

    ours, naive = statistics.median(ours_ms), statistics.median(naive_ms) if naive_ms else float("nan")
    per_call = per_call_ms(args.pair_repeats)
    return {
        "n_completions": args.n,
        "chars_per_completion": args.chars,
        "repeats": args.repeats,
        "baseline_repeats": args.baseline_repeats,
        "majority_vote_median_ms": round(ours, 2),
        "majority_vote_max_ms": round(max(ours_ms), 2),
        "extract_answers_median_ms": round(statistics.median(extract_ms), 2),
        "vote_on_answers_median_ms": round(statistics.median(vote_ms), 2),
        "naive_all_pairs_median_ms": round(naive, 2),
        "speedup": round(naive / ours, 1),
        **per_call,
        "majority_vote_labels_correct": sum(correct) / len(correct),
        "naive_labels_correct": sum(naive_correct) / len(naive_correct) if naive_correct else None,
        "distinct_answer_strings_mean": statistics.mean(distinct),
        "answer_timeout_s": voting.ANSWER_TIMEOUT_S,
        "python": platform.python_version(),
        "math_verify": _version("math-verify"),
        "cpu": platform.processor() or platform.machine(),
    }


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="completions per vote")
    parser.add_argument("--chars", type=int, default=2000, help="characters of reasoning per completion")
    parser.add_argument("--repeats", type=int, default=20, help="timed majority_vote calls (one problem each)")
    parser.add_argument("--baseline-repeats", type=int, default=3, help="timed naive votes (slow: all pairs)")
    parser.add_argument("--pair-repeats", type=int, default=5, help="cold timings of each answer pair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("outputs/benchmarks/voting.json"))
    args = parser.parse_args(argv)

    core = pin_to_one_core()
    figures = {"pinned_core": core, **run(args)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
