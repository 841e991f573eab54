"""Majority-vote pseudo-labels: answer extraction, math equivalence and the vote itself.

TTRL's only training signal is agreement with the majority answer of the policy's own samples,
so the vote must treat ``\\frac{1}{2}``, ``0.5`` and ``1/2`` as one answer (math-verify decides
equivalence) and must never stall training on a pathological completion.

Bounded time: every math-verify call runs in a helper process (``ttrl_trl.vote.math_verify_worker``)
with its own timer, so a pathological completion costs at most a budget, from any thread. The
parent never imports sympy; it only extracts ``\\boxed{...}`` text and short-cuts plain integers.

Semantics (math-verify 0.9's, compared in both directions, see ``answers_equivalent``):

* ``033 == 33``; ``142.0 == 142``; ``1/2 == 0.5 == \\frac{1}{2}``; ``2\\sqrt{3} == \\sqrt{12}``;
  ``106^\\circ == 106``; ``\\$5 == 5``; ``5 \\text{ cm} == 5``; ``50\\%`` equals ``50`` (its
  integer-percent rule) and ``0.5``.
* Commas: ``1,000``, ``1{,}000`` and ``1,234,567`` (groups of exactly three digits) are numbers;
  ``1\\,000``, ``20{,}000`` inside a ``\\frac`` and thin / no-break spaces between digit groups
  too; ``1,2`` is the set ``\\{1, 2\\}``; ``(1, 2)`` is an
  open interval, not a tuple. Sets and tuples are only equal to their own kind (``strict=True``).
* An answer whose parse fails or times out counts as no answer (never wins, never matches);
  a comparison that times out counts as "not equivalent".
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ttrl_trl.vote.boxed import final_boxed_answer
from ttrl_trl.vote.math_verify_worker import CLIENT, STARTUP_TIMEOUT_S
from ttrl_trl.vote.unicode_math import normalize_math_text

ANSWER_TIMEOUT_S = float(os.environ.get("TTRL_ANSWER_TIMEOUT_S", "2.0"))
"""Budget for one parse, one comparison or one fallback extraction inside the helper process.
A first parse of a new kind of expression can take ~0.3 s (sympy warms up lazily), so a tighter
budget risks calling a loaded machine's honest answer "no answer"."""
KILL_GRACE_S = 2.0
"""Extra wait before the parent decides the helper is stuck (uninterruptible) and kills it."""
MAX_ANSWER_CHARS = 1000
"""Longer boxed contents are not answers (MATH-500's longest gold answer has 53 characters)."""
FALLBACK_TAIL_CHARS = 1000
"""Without a box, math-verify looks for a final answer in this many trailing characters only."""
BARE_ANSWER_CHARS = 100
"""A box-less completion this short is taken to be the answer itself (``$\\frac{7}{2}$``); in
longer text only anchored phrases count ("the final answer is", "answer:"), because the last
number of a truncated reasoning trace is not an answer (and comparing such debris is slow)."""

_INT_RE = re.compile(r"[+-]?\d{1,50}")
_MAY_HOLD_ANSWER_RE = re.compile(r"[\d$\[]|\\\(")
_ANCHOR_RE = re.compile(r"answer", re.IGNORECASE)  # every anchored math-verify pattern has it
_STATED_ANSWER_RE = re.compile(r"answer(?:\*\*)?\s*(?:is|:)(?:\*\*)?\s*(?=[-+$\\\d(\[{]|[A-E]\b)", re.IGNORECASE)
"""An explicit statement whose next character can start an answer ("the answer is correct" is none)."""


@dataclass(frozen=True)
class VoteResult:
    """Outcome of one majority vote over a prompt's completions.

    ``label`` is the winning cluster's representative (its most frequent normalized spelling);
    ``matches[i]`` says completion ``i`` fell in that cluster, i.e. was found equivalent to the
    label; ``answers`` are the extracted strings as given; ``ratio`` is the winning cluster's
    share of all completions, None answers included; ``clusters[i]`` is answer ``i``'s cluster
    index (an arbitrary numbering; None for no answer or an unparseable one; derived from the rest,
    so left out of ``==``).
    """

    label: str | None
    matches: list[bool]
    answers: list[str | None]
    ratio: float
    clusters: list[int | None] = field(default_factory=list, compare=False)


# ------------------------------------------------------------------------------------ extraction


def extract_answer(text: str) -> str | None:
    """The completion's final answer as LaTeX text, or None.

    * The last non-empty ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces) wins, joined with the
      boxes just before it that belong to the same answer (``\\boxed{1} and \\boxed{2}`` is ``1,2``;
      the rule, math-verify's with a stricter filler test, is in ``ttrl_trl.vote.boxed``).
    * The last stated answer wins over an earlier box: in ``... \\boxed{255} ... The final answer
      is $10,455$.`` the answer is ``10455``.
    * Without a box, math-verify's own extraction runs on the last ``FALLBACK_TAIL_CHARS``
      characters: anchored phrases only ("the answer is 7", "Final answer: $\\frac{7}{2}$"), or any
      LaTeX / number when the whole completion is at most ``BARE_ANSWER_CHARS`` long
      (``$\\frac{7}{2}$``). Deliberately, a longer completion without a box or an "answer" phrase
      near its end has no answer: the last number of a truncated reasoning trace is not an answer.

    Unicode math (``90°``, ``−5``, ``√3``, ``π``) and thousands separators (``20{,}000``,
    ``1\\,000``, also inside ``\\frac``) come back in the LaTeX math-verify reads (``ttrl_trl.vote.unicode_math``).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    boxed = final_boxed_answer(text, MAX_ANSWER_CHARS)
    if boxed is not None:
        return _stated_after(text, boxed.end) or _clean(boxed.content)
    anchored = len(text.strip()) > BARE_ANSWER_CHARS
    tail = _tail(text, FALLBACK_TAIL_CHARS)
    if not (_ANCHOR_RE if anchored else _MAY_HOLD_ANSWER_RE).search(tail):
        return None
    return _math_verify_extract(tail, anchored)


def _stated_after(text: str, box_end: int) -> str | None:
    """An answer stated explicitly ("the answer is", "Answer:") after the last box, if any."""
    after = text[box_end : box_end + FALLBACK_TAIL_CHARS]
    statements = list(_STATED_ANSWER_RE.finditer(after))
    return _math_verify_extract(after[statements[-1].start() :], True) if statements else None


def _math_verify_extract(text: str, anchored: bool) -> str | None:
    request = ("extract", normalize_math_text(text), anchored, ANSWER_TIMEOUT_S)
    return _clean(CLIENT.call(request, ANSWER_TIMEOUT_S + KILL_GRACE_S, None))


def _tail(text: str, n_chars: int) -> str:
    """The last ``n_chars`` characters, starting at a line break when one is near, so that a
    cut does not split a ``$...$`` pair."""
    if len(text) <= n_chars:
        return text
    tail = text[-n_chars:]
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < n_chars // 2 else tail


def _clean(answer: Any) -> str | None:
    """A usable answer string in normalized form, or None for empty / absurdly long / non-string
    results."""
    if not isinstance(answer, str):
        return None
    answer = normalize_math_text(answer)
    return answer if answer and len(answer) <= MAX_ANSWER_CHARS else None


# -------------------------------------------------------------------------------------- grading


def answers_equivalent(a: str | None, b: str | None) -> bool:
    """Whether two answer strings are mathematically equivalent; the verdict is symmetric.

    math-verify's ``verify(gold, prediction)`` depends on which side is gold: an equation
    prediction is read by its right-hand side (``0`` "equals" ``a + 3z = 0`` one way only), a
    tuple prediction may match a set gold, and a set is compared with a relation only when the
    relation is gold (``x \\in [-2,7]`` against ``-2 \\le x \\le 7``). Rule: **equivalent only
    if both directions say so, each with** ``allow_set_relation_comp=True``.

    Chosen by measuring, on the 256 Math-Verify test cases our API runs
    (``python tests/math_verify_cases.py``), false accepts / false rejections of each rule on the
    extracted answers: gold first (math-verify's, order-dependent) 0 / 2; either direction 5 / 1
    (it accepts ``0`` for ``a + 3z = 0`` and a tuple for a set); both directions 0 / 8 (it rejects
    every set written as a relation); both directions with set-relation comparison on 0 / 2 (the
    two rejections: ``10/9`` against ``\\frac{1}{2} = \\frac{10}{9}``, and an answer math-verify
    cannot parse). The reverse comparison only runs when the first one accepts.
    """
    a, b = _clean(a), _clean(b)
    if a is None or b is None:
        return False
    return _equivalent(a, b)


def is_correct(answer: str | None, gold: str | None) -> bool:
    """Whether ``answer`` matches a dataset's gold answer, with the grader the vote uses."""
    if gold is not None and not isinstance(gold, str):
        gold = str(gold)  # AMC-style numeric columns
    return answers_equivalent(gold, answer)


@functools.lru_cache(maxsize=65536)
def _parses(answer: str) -> bool:
    """Whether math-verify can parse ``answer`` in time (cached by string)."""
    if _INT_RE.fullmatch(answer):
        return True
    budget = 2 * ANSWER_TIMEOUT_S + KILL_GRACE_S
    return bool(CLIENT.call(("parse", answer, ANSWER_TIMEOUT_S), budget, False))


def _equivalent(a: str, b: str) -> bool:
    """Symmetric equivalence of two cleaned answers; one cache entry per unordered pair."""
    return _equivalent_pair(*sorted((a, b)))


@functools.lru_cache(maxsize=65536)
def _equivalent_pair(a: str, b: str) -> bool:
    """Both-direction math-verify equivalence, skipping the helper for equal strings and integers."""
    if a == b:
        return _parses(a)
    if _INT_RE.fullmatch(a) and _INT_RE.fullmatch(b):
        return int(a) == int(b)
    budget = 4 * ANSWER_TIMEOUT_S + KILL_GRACE_S  # two parses (after a restart) and two verifies
    return bool(CLIENT.call(("equiv", a, b, ANSWER_TIMEOUT_S), budget, False))


def clear_caches() -> None:
    """Forget every parse and comparison (benchmarks use this to time cold votes)."""
    _parses.cache_clear()
    _equivalent_pair.cache_clear()
    CLIENT.call(("clear",), STARTUP_TIMEOUT_S, None)


# ----------------------------------------------------------------------------------------- vote


def vote_on_answers(answers: Sequence[str | None]) -> VoteResult:
    """Majority vote over already-extracted answers; the result does not depend on their order.

    Distinct (normalized) strings are taken most frequent first (then shorter, then alphabetical),
    each parsed once and compared only with the representatives of the clusters found so far, so
    a cluster's representative is its most common spelling whatever order the completions came
    in. The largest cluster wins; a tie goes to the cluster whose first member appears earliest
    (the one order-dependent case). Unparseable answers and None never win.
    """
    answers = list(answers)
    keys = [_clean(a) for a in answers]
    representatives, sizes, cluster_of = _cluster(keys)
    clusters = [None if key is None else cluster_of.get(key) for key in keys]
    if not representatives:
        return VoteResult(label=None, matches=[False] * len(answers), answers=answers, ratio=0.0, clusters=clusters)
    first_seen = {k: i for i, k in reversed(list(enumerate(keys))) if k in cluster_of}
    earliest = [min(first_seen[key] for key, k in cluster_of.items() if k == c) for c in range(len(sizes))]
    winner = max(range(len(sizes)), key=lambda k: (sizes[k], -earliest[k]))
    matches = [key is not None and cluster_of.get(key) == winner for key in keys]
    return VoteResult(
        label=representatives[winner],
        matches=matches,
        answers=answers,
        ratio=sizes[winner] / len(answers),
        clusters=clusters,
    )


def majority_vote(completions: Sequence[str]) -> VoteResult:
    """Extract every completion's answer, then vote."""
    return vote_on_answers([extract_answer(text) for text in completions])


def _cluster(keys: Sequence[str | None]) -> tuple[list[str], list[int], dict[str, int]]:
    """Greedy equivalence clustering: (representatives, cluster sizes, cluster index per string)."""
    counts: dict[str, int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    representatives: list[str] = []
    sizes: list[int] = []
    cluster_of: dict[str, int] = {}
    for key in sorted(counts, key=lambda key: (-counts[key], len(key), key)):
        if not _parses(key):
            continue
        k = next((k for k, rep in enumerate(representatives) if _equivalent(rep, key)), None)
        if k is None:
            representatives.append(key)
            sizes.append(0)
            k = len(representatives) - 1
        sizes[k] += counts[key]
        cluster_of[key] = k
    return representatives, sizes, cluster_of
