"""Majority-vote pseudo-labels: answer extraction, math equivalence and the vote itself.

TTRL's only training signal is agreement with the majority answer of the policy's own samples,
so the vote must treat ``\\frac{1}{2}``, ``0.5`` and ``1/2`` as one answer (math-verify decides
equivalence) and must never stall training on a pathological completion.

Bounded time, from any thread. math-verify bounds its work with ``signal.alarm``, which only
works in the main thread (the trainer's reward code and evaluation may run elsewhere), and a
thread cannot be interrupted from outside. So every math-verify call runs in one long-lived
helper process per Python process: it is the main thread there, arms its own sub-second timer
around each parse / comparison, and if it ever fails to answer in time (a hang in C code that
no signal interrupts) the parent kills it and starts a fresh one. The parent never imports
sympy; it only extracts ``\\boxed{...}`` text and short-cuts plain integers. (POSIX only: the
helper relies on ``select`` over pipes and ``SIGALRM``.)

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

import atexit
import functools
import logging
import os
import pickle
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = float(os.environ.get("TTRL_ANSWER_TIMEOUT_S", "2.0"))
"""Budget for one parse, one comparison or one fallback extraction inside the helper process.
A first parse of a new kind of expression can take ~0.3 s (sympy warms up lazily), so a tighter
budget risks calling a loaded machine's honest answer "no answer"."""
KILL_GRACE_S = 2.0
"""Extra wait before the parent decides the helper is stuck (uninterruptible) and kills it."""
STARTUP_TIMEOUT_S = 120.0
"""Starting the helper imports sympy; a loaded machine can take many seconds."""
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
_FRACTION_RE = re.compile(r"(-?)\\[dt]?frac\{(-?\d{1,20})\}\{(\d{1,20})\}|()(-?\d{1,20})/(\d{1,20})")
_DECIMAL_RE = re.compile(r"-?\d{1,20}\.\d{1,20}")


@dataclass(frozen=True)
class VoteResult:
    """Outcome of one majority vote over a prompt's completions.

    ``label`` is the winning cluster's representative (its first member, as extracted);
    ``matches[i]`` says completion ``i`` fell in that cluster, i.e. was found equivalent to the
    label; ``answers`` are the extracted strings as given; ``ratio`` is the winning cluster's
    share of all completions, None answers included; ``clusters[i]`` is answer ``i``'s cluster
    index (clusters numbered in order of appearance; None for no answer or an unparseable one;
    derived from the rest, so left out of ``==``).
    """

    label: str | None
    matches: list[bool]
    answers: list[str | None]
    ratio: float
    clusters: list[int | None] = field(default_factory=list, compare=False)


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
    return _clean(_CLIENT.call(request, ANSWER_TIMEOUT_S + KILL_GRACE_S, None))


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
    return bool(_CLIENT.call(("parse", answer, ANSWER_TIMEOUT_S), budget, False))


@functools.lru_cache(maxsize=65536)
def _equivalent(gold: str, answer: str) -> bool:
    """``verify(parse(gold), parse(answer))``, skipping the helper for equal strings and integers."""
    if gold == answer:
        return _parses(gold)
    if _INT_RE.fullmatch(gold) and _INT_RE.fullmatch(answer):
        return int(gold) == int(answer)
    budget = 3 * ANSWER_TIMEOUT_S + KILL_GRACE_S  # two parses (after a restart) and one verify
    return bool(_CLIENT.call(("equiv", gold, answer, ANSWER_TIMEOUT_S), budget, False))


def clear_caches() -> None:
    """Forget every parse and comparison (benchmarks use this to time cold votes)."""
    _parses.cache_clear()
    _equivalent.cache_clear()
    _CLIENT.call(("clear",), STARTUP_TIMEOUT_S, None)


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
    clusters = [None if key is None else cluster_of.get(key) for key in keys]
    if not representatives:
        return VoteResult(label=None, matches=[False] * len(answers), answers=answers, ratio=0.0, clusters=clusters)
    winner = max(range(len(sizes)), key=lambda k: (sizes[k], -k))
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


# ------------------------------------------------------------------------- parent: helper client


class _HelperClient:
    """Owns the grading helper process: starts it lazily, times every request, kills it if stuck."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner_pid = 0

    def call(self, request: tuple, budget_s: float, default: Any) -> Any:
        """Send one request; return the reply, or ``default`` if the helper fails or overruns."""
        with self._lock:
            proc = self._ensure_started()
            try:
                _write_frame(proc.stdin, request)
                status, value = _read_frame(proc.stdout.fileno(), time.monotonic() + budget_s)
            except (TimeoutError, EOFError, OSError, pickle.UnpicklingError) as err:
                logger.warning(
                    "math-verify helper failed on %r (%s); restarting it", _short(request), type(err).__name__
                )
                self._stop(graceful=False)
                return default
            return value if status == "ok" else default

    def reset_after_fork(self) -> None:
        """A forked child must not share the parent's helper (its pipes belong to the parent)."""
        self._lock = threading.Lock()
        self._proc = None

    def close(self) -> None:
        """Let the helper exit (it stops when its stdin closes); kill it if it lingers."""
        with self._lock:
            self._stop(graceful=True)

    def _ensure_started(self) -> subprocess.Popen:
        if self._proc is not None and self._owner_pid == os.getpid() and self._proc.poll() is None:
            return self._proc
        self._proc = None
        proc = subprocess.Popen(
            [sys.executable, "-c", "from ttrl_trl.voting import _helper_main; _helper_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_helper_env(),
            bufsize=0,
        )
        try:
            _read_frame(proc.stdout.fileno(), time.monotonic() + STARTUP_TIMEOUT_S)
        except (TimeoutError, EOFError, OSError, pickle.UnpicklingError) as err:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"could not start the math-verify helper process ({type(err).__name__})") from err
        self._proc, self._owner_pid = proc, os.getpid()
        return proc

    def _stop(self, graceful: bool) -> None:
        """Close the helper's stdin (it exits on EOF); kill it at once if it is stuck."""
        proc, self._proc = self._proc, None
        if proc is None or self._owner_pid != os.getpid():
            return
        try:
            proc.stdin.close()
            if graceful:
                proc.wait(timeout=1.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _helper_env() -> dict[str, str]:
    """The parent's environment, with this package importable however the parent found it."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _short(request: tuple) -> str:
    return repr(request)[:120]


def _write_frame(stream: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(struct.pack("<I", len(data)) + data)
    while view:
        written = stream.write(view)
        view = view[written:]
    stream.flush()


def _read_frame(fd: int, deadline: float | None) -> Any:
    """One length-prefixed pickle from ``fd``; TimeoutError at ``deadline`` (None: wait for ever),
    EOFError if the pipe closes."""
    header = _read_exact(fd, 4, deadline)
    return pickle.loads(_read_exact(fd, struct.unpack("<I", header)[0], deadline))


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while size:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


_CLIENT = _HelperClient()
atexit.register(_CLIENT.close)
os.register_at_fork(after_in_child=_CLIENT.reset_after_fork)


# ------------------------------------------------------------------------- child: helper process

_ARMED = False


class _Timeout(BaseException):
    """Raised by the helper's timer. A BaseException of our own, so neither ``except Exception``
    nor math-verify's ``except TimeoutException`` swallows it; a bare ``except:`` somewhere in a
    library could, which is why the timer keeps ticking every 50 ms until the call ends."""


def _helper_main() -> None:
    """Entry point of the helper: answer framed requests on stdin until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # stray prints must not corrupt the reply channel
    logging.disable(logging.WARNING)  # math-verify warns on every timeout and about timeout=None
    signal.signal(signal.SIGALRM, _on_alarm)
    grader = _Grader()
    for gold, answer in _WARM_UP:  # sympy initialises lazily: pay that before the first timed request
        grader.equivalent(gold, answer, STARTUP_TIMEOUT_S)
    grader.handle(("clear",))
    _write_frame(out, ("ready", os.getpid()))
    stdin_fd = sys.stdin.fileno()
    while True:
        try:
            request = _read_frame(stdin_fd, None)
        except EOFError:
            return
        try:
            reply = ("ok", grader.handle(request))
        except (Exception, _Timeout) as err:  # a timer tick that lands after _bounded returns
            reply = ("error", type(err).__name__)
        _write_frame(out, reply)


_WARM_UP = (
    ("\\frac{7}{2}", "2\\sqrt{3}"),
    ("3.5", "\\dfrac{7}{2}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi)"),
    ("[1,3)", "(-\\infty, 2]"),
    ("\\{1,2\\}", "1,2"),
    ("x=5", "5"),
    ("\\text{(B)}", "B"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\3\\end{pmatrix}"),
    ("50\\%", "0.5"),
    ("y^2 + 3y", "3y+y^2"),
    ("\\log_2 8", "\\sin x"),
)


def _on_alarm(signum: int, frame: Any) -> None:
    if _ARMED:
        raise _Timeout


def _bounded(fn: Callable[[], Any], timeout_s: float, default: Any) -> Any:
    """Run ``fn`` under a repeating real-time timer; ``default`` on timeout or error."""
    global _ARMED
    _ARMED = True
    signal.setitimer(signal.ITIMER_REAL, timeout_s, 0.05)  # repeats in case a library swallows a tick
    try:
        return fn()
    except (Exception, _Timeout):
        return default
    finally:
        _ARMED = False
        signal.setitimer(signal.ITIMER_REAL, 0)


@dataclass(frozen=True)
class _Parsed:
    """math-verify's parse of one answer, plus its numeric value when it is a plain number."""

    exprs: list
    value: complex | None


class _Grader:
    """The helper's math-verify front end, with a bounded LRU cache of parsed answers."""

    CACHE_SIZE = 8192

    def __init__(self) -> None:
        self._parsed: OrderedDict[str, _Parsed | None] = OrderedDict()

    def handle(self, request: tuple) -> Any:
        op, *args = request
        if op == "parse":
            return self.parse(*args) is not None
        if op == "equiv":
            return self.equivalent(*args)
        if op == "extract":
            text, anchored, timeout_s = args
            return _bounded(lambda: _final_answer(text, anchored), timeout_s, None)
        if op == "clear":
            self._parsed.clear()
            return None
        if op == "_hang":  # test hook: an uninterruptible stall, as a C-level hang would be
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(args[0])
            return None
        raise ValueError(f"unknown request {op!r}")

    def parse(self, answer: str, timeout_s: float) -> _Parsed | None:
        if answer in self._parsed:
            self._parsed.move_to_end(answer)
            return self._parsed[answer]
        parsed = _bounded(lambda: _parse_answer(answer), timeout_s, None)
        self._parsed[answer] = parsed
        if len(self._parsed) > self.CACHE_SIZE:
            self._parsed.popitem(last=False)
        return parsed

    def equivalent(self, gold: str, answer: str, timeout_s: float) -> bool:
        a, b = self.parse(gold, timeout_s), self.parse(answer, timeout_s)
        if a is None or b is None:
            return False
        if _clearly_different(a.value, b.value):
            return False  # a symbolic simplify of e.g. 7/2 - 2*sqrt(3) costs ~20 ms for nothing
        from math_verify import verify

        return bool(_bounded(lambda: verify(a.exprs, b.exprs, timeout_seconds=None), timeout_s, False))


def _parse_answer(answer: str) -> _Parsed | None:
    """Parse one extracted answer the way math-verify parses a boxed gold answer."""
    exprs = _parse_plain_number(answer)
    if exprs is None:
        from math_verify import parse

        exprs = parse("\\boxed{" + answer + "}", parsing_timeout=None)
    if not exprs:
        return None
    return _Parsed(exprs=exprs, value=_numeric_value(exprs[0]))


def _parse_plain_number(answer: str) -> list | None:
    """What math-verify returns for an integer, a decimal or an integer fraction, built directly
    (~1 ms of LaTeX parsing saved per answer; tests check the objects are identical)."""
    from sympy import Integer, Number, Rational

    if _INT_RE.fullmatch(answer):
        return [Integer(int(answer)), answer]
    if match := _FRACTION_RE.fullmatch(answer):
        sign, numerator, denominator = (g for g in match.groups() if g is not None)
        if int(denominator) == 0:
            return None
        return [Rational(-int(numerator) if sign else int(numerator), int(denominator)), answer]
    if _DECIMAL_RE.fullmatch(answer) and answer != "0.5":  # math-verify rewrites "0.5" as 1/2
        negative, digits = answer.startswith("-"), answer.lstrip("-").lstrip("0")
        value = Number(digits)  # latex2sympy's convert_number: leading zeros go, precision stays
        return [-value if negative else value, answer]
    return None


def _numeric_value(expr: Any) -> complex | None:
    """Value of a plain numeric scalar (no symbols, sets, relations, matrices or percentages).

    Evaluating also weeds out answers like ``9^{9^{9^{9}}}``: their evaluation times out, so
    they count as no answer instead of costing a timeout in every later comparison.
    """
    from sympy import Expr, UnevaluatedExpr
    from sympy.matrices import MatrixBase
    from sympy.matrices.expressions import MatrixExpr

    if not isinstance(expr, Expr) or isinstance(expr, (MatrixBase, MatrixExpr)) or not expr.is_number:
        return None
    if expr.has(UnevaluatedExpr):  # a percentage: math-verify treats 50\% and 50 as equal
        return None
    try:
        value = complex(float(expr) if expr.is_Rational or expr.is_Float else expr.evalf(30))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def _clearly_different(a: complex | None, b: complex | None) -> bool:
    """True only when math-verify cannot call the two values equal (it needs exact equality or
    equality after rounding to 6 decimals, so a 1e-4 relative gap is a safe margin)."""
    if a is None or b is None:
        return False
    return abs(a - b) > 1e-4 * max(1.0, abs(a), abs(b))


@functools.cache
def _fallback_patterns(anchored: bool) -> list[tuple[re.Pattern[str], Any, int]]:
    """Compiled once here: math-verify caches only its latest LaTeX config, and answer parsing
    uses the default one, so asking it each time would recompile these large regexes."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig
    from math_verify.parser import get_extraction_regexes

    bare = not anchored
    targets = (
        LatexExtractionConfig(try_extract_without_anchor=bare, boxed_match_priority=-1),
        ExprExtractionConfig(try_extract_without_anchor=bare),
    )
    return [
        (pattern, target, priority)
        for regexes, target in get_extraction_regexes(targets)
        for pattern, priority in regexes
    ]


def _final_answer(text: str, anchored: bool) -> str | None:
    """math-verify's extraction (LaTeX + expression targets, boxes excluded because the parent
    already looked for them): highest-priority pattern group first, rightmost match first, first
    match that parses wins; returns its normalized text."""
    from math_verify.parser import extract_match

    patterns = _fallback_patterns(anchored)
    for priority in sorted({item[2] for item in patterns}):
        found = [(m, target) for pattern, target, p in patterns if p == priority for m in pattern.finditer(text)]
        found.sort(key=lambda item: (item[0].end(), -item[0].start()), reverse=True)
        for match, target in found:
            expr, as_text = extract_match(match, target)
            if expr is not None and as_text:
                return str(as_text)
    return None
