"""Majority-vote pseudo-labels: answer extraction, math equivalence and the vote itself.

TTRL's only training signal is agreement with the majority answer of the policy's own samples,
so the vote must treat ``\\frac{1}{2}``, ``0.5`` and ``1/2`` as one answer (math-verify decides
equivalence) and must never stall training on a pathological completion.

Bounded time: every math-verify call runs in a helper process (``ttrl_trl.math_verify_worker``)
with its own timer, so a pathological completion costs at most a budget, from any thread. The
parent never imports sympy; it only extracts ``\\boxed{...}`` text and short-cuts plain integers.

Semantics (math-verify 0.9's, with the comparison ``verify(representative, answer)``):

* ``033 == 33``; ``142.0 == 142``; ``1/2 == 0.5 == \\frac{1}{2}``; ``2\\sqrt{3} == \\sqrt{12}``;
  ``106^\\circ == 106``; ``\\$5 == 5``; ``5 \\text{ cm} == 5``; ``50\\%`` equals ``50`` (its
  integer-percent rule) and ``0.5``.
* Commas: ``1,000``, ``1{,}000`` and ``1,234,567`` (groups of exactly three digits) are numbers;
  ``1,2`` is the set ``\\{1, 2\\}``; ``1\\,000`` (thin space) is not a thousand; ``(1, 2)`` is an
  open interval, not a tuple. Sets and tuples are only equal to their own kind (``strict=True``).
* An answer whose parse fails or times out counts as no answer (never wins, never matches);
  a comparison that times out counts as "not equivalent".
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ttrl_trl.math_verify_worker import CLIENT, STARTUP_TIMEOUT_S

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
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.DOTALL)
_MAY_HOLD_ANSWER_RE = re.compile(r"[\d$\[]|\\\(")
_ANCHOR_RE = re.compile(r"answer", re.IGNORECASE)  # every anchored math-verify pattern has it


@dataclass(frozen=True)
class VoteResult:
    """Outcome of one majority vote over a prompt's completions.

    ``label`` is the winning cluster's representative (its first member, as extracted);
    ``matches[i]`` says completion ``i`` fell in that cluster, i.e. was found equivalent to the
    label; ``answers`` are the extracted strings as given; ``ratio`` is the winning cluster's
    share of all completions, None answers included.
    """

    label: str | None
    matches: list[bool]
    answers: list[str | None]
    ratio: float


# ------------------------------------------------------------------------------------ extraction


def extract_answer(text: str) -> str | None:
    """The completion's final answer as LaTeX text, or None.

    The last non-empty ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces) wins. Without one,
    math-verify's own extraction runs on the last ``FALLBACK_TAIL_CHARS`` characters: anchored
    phrases only ("the answer is 7", "Final answer: $\\frac{7}{2}$"), or any LaTeX / number when
    the whole completion is at most ``BARE_ANSWER_CHARS`` long (``$\\frac{7}{2}$``).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    boxed = _last_boxed(text)
    if boxed is not None:
        return boxed
    anchored = len(text.strip()) > BARE_ANSWER_CHARS
    tail = _tail(text, FALLBACK_TAIL_CHARS)
    if not (_ANCHOR_RE if anchored else _MAY_HOLD_ANSWER_RE).search(tail):
        return None
    request = ("extract", tail, anchored, ANSWER_TIMEOUT_S)
    return _clean(CLIENT.call(request, ANSWER_TIMEOUT_S + KILL_GRACE_S, None))


def _last_boxed(text: str) -> str | None:
    """Content of the last box whose braces close within ``MAX_ANSWER_CHARS`` and is not empty."""
    for match in reversed(list(_BOX_RE.finditer(text))):
        content = _balanced_content(text, match.end())
        if content:
            return content
    return None


def _balanced_content(text: str, start: int) -> str | None:
    """Text from ``start`` (just after an opening brace) up to its closing brace, stripped."""
    depth = 1
    end = min(len(text), start + MAX_ANSWER_CHARS + 1)
    for token in _BRACE_TOKEN_RE.finditer(text, start, end):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth == 0:
                return text[start : token.start()].strip() or None
    return None


def _tail(text: str, n_chars: int) -> str:
    """The last ``n_chars`` characters, starting at a line break when one is near, so that a
    cut does not split a ``$...$`` pair."""
    if len(text) <= n_chars:
        return text
    tail = text[-n_chars:]
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < n_chars // 2 else tail


def _clean(answer: Any) -> str | None:
    """A usable answer string, or None for empty / absurdly long / non-string results."""
    if not isinstance(answer, str):
        return None
    answer = answer.strip()
    return answer if answer and len(answer) <= MAX_ANSWER_CHARS else None


# -------------------------------------------------------------------------------------- grading


def answers_equivalent(a: str | None, b: str | None) -> bool:
    """Whether two answer strings are mathematically equivalent (math-verify, ``a`` as gold)."""
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


@functools.lru_cache(maxsize=65536)
def _equivalent(gold: str, answer: str) -> bool:
    """``verify(parse(gold), parse(answer))``, skipping the helper for equal strings and integers."""
    if gold == answer:
        return _parses(gold)
    if _INT_RE.fullmatch(gold) and _INT_RE.fullmatch(answer):
        return int(gold) == int(answer)
    budget = 3 * ANSWER_TIMEOUT_S + KILL_GRACE_S  # two parses (after a restart) and one verify
    return bool(CLIENT.call(("equiv", gold, answer, ANSWER_TIMEOUT_S), budget, False))


def clear_caches() -> None:
    """Forget every parse and comparison (benchmarks use this to time cold votes)."""
    _parses.cache_clear()
    _equivalent.cache_clear()
    CLIENT.call(("clear",), STARTUP_TIMEOUT_S, None)


# ----------------------------------------------------------------------------------------- vote


def vote_on_answers(answers: Sequence[str | None]) -> VoteResult:
    """Majority vote over already-extracted answers.

    Each distinct string is parsed once and compared only with the representatives (first
    members) of the clusters found so far, in order of appearance; the largest cluster wins and
    a tie goes to the cluster seen first. Unparseable answers and None never win.
    """
    answers = list(answers)
    keys = [_clean(a) for a in answers]
    representatives, sizes, cluster_of = _cluster(keys)
    if not representatives:
        return VoteResult(label=None, matches=[False] * len(answers), answers=answers, ratio=0.0)
    winner = max(range(len(sizes)), key=lambda k: (sizes[k], -k))
    matches = [key is not None and cluster_of.get(key) == winner for key in keys]
    return VoteResult(
        label=representatives[winner], matches=matches, answers=answers, ratio=sizes[winner] / len(answers)
    )


def majority_vote(completions: Sequence[str]) -> VoteResult:
    """Extract every completion's answer, then vote."""
    return vote_on_answers([extract_answer(text) for text in completions])


def _cluster(keys: Sequence[str | None]) -> tuple[list[str], list[int], dict[str, int]]:
    """Greedy equivalence clustering: (representatives, cluster sizes, cluster index per string)."""
    counts: dict[str, int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1  # dicts keep first-seen order
    representatives: list[str] = []
    sizes: list[int] = []
    cluster_of: dict[str, int] = {}
    for key, count in counts.items():
        if not _parses(key):
            continue
        k = next((k for k, rep in enumerate(representatives) if _equivalent(rep, key)), None)
        if k is None:
            representatives.append(key)
            sizes.append(0)
            k = len(representatives) - 1
        sizes[k] += count
        cluster_of[key] = k
    return representatives, sizes, cluster_of
