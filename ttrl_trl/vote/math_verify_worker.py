"""The math-verify worker: one long-lived helper process that parses and compares answers
within a time budget, from any thread.

Why a process. math-verify bounds its work with ``signal.alarm``, which only works in the main
thread (the trainer's reward code and evaluation may run elsewhere), and a thread cannot be
interrupted from outside. So every math-verify call runs in one long-lived helper process per
Python process: it is the main thread there, arms its own sub-second timer around each parse /
comparison, and if it ever fails to answer in time (a hang in C code that no signal interrupts)
the parent kills it and starts a fresh one. The parent never imports sympy. (POSIX only: the
helper relies on ``select`` over pipes and ``SIGALRM``.)

The parent side is ``CLIENT.call(request, budget_s, default)``; requests are tuples
``("parse", answer, timeout_s)``, ``("equiv", gold, answer, timeout_s)``,
``("extract", text, anchored, timeout_s)`` and ``("clear",)``.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 120.0
"""Starting the helper imports sympy; a loaded machine can take many seconds."""

_INT_RE = re.compile(r"[+-]?\d{1,50}")
_FRACTION_RE = re.compile(r"(-?)\\[dt]?frac\{(-?\d{1,20})\}\{(\d{1,20})\}|()(-?\d{1,20})/(\d{1,20})")
_DECIMAL_RE = re.compile(r"-?\d{1,20}\.\d{1,20}")


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
            [sys.executable, "-c", "from ttrl_trl.vote.math_verify_worker import _helper_main; _helper_main()"],
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
    root = str(Path(__file__).resolve().parents[2])  # the folder holding ttrl_trl/
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


CLIENT = _HelperClient()
atexit.register(CLIENT.close)
os.register_at_fork(after_in_child=CLIENT.reset_after_fork)


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

    def equivalent(self, first: str, second: str, timeout_s: float) -> bool:
        """Symmetric: math-verify must accept both ``verify(first, second)`` and the reverse, each with
        ``allow_set_relation_comp`` (why: ``ttrl_trl.vote.voting.answers_equivalent``). The reverse only
        runs when the first direction accepts and one side is not a plain number: two numbers compare
        the same both ways (rounded alike; no direction differed on 3,081 pairs of numeric gold
        answers and their rewrites), and votes are mostly numbers."""
        a, b = self.parse(first, timeout_s), self.parse(second, timeout_s)
        if a is None or b is None:
            return False
        if _clearly_different(a.value, b.value):
            return False  # a symbolic simplify of e.g. 7/2 - 2*sqrt(3) costs ~20 ms for nothing
        from math_verify import verify

        def both_directions() -> bool:
            options = {"timeout_seconds": None, "allow_set_relation_comp": True}
            if not verify(a.exprs, b.exprs, **options):
                return False
            return (a.value is not None and b.value is not None) or verify(b.exprs, a.exprs, **options)

        return bool(_bounded(both_directions, timeout_s, False))


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
