"""Majority vote: extraction, math-verify equivalence, vote semantics and bounded time."""

from __future__ import annotations

import threading
import time

import pytest

from ttrl_trl.vote import math_verify_worker, voting
from ttrl_trl.vote.voting import (
    VoteResult,
    answers_equivalent,
    extract_answer,
    is_correct,
    majority_vote,
    vote_on_answers,
)

# ------------------------------------------------------------------------------------ extraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Adding up, we get \\boxed{42}.", "42"),
        ("First \\boxed{3}, then on reflection \\boxed{\\frac{7}{2}}.", "\\frac{7}{2}"),
        ("Nested: \\boxed{\\frac{\\sqrt{3}}{2}} done", "\\frac{\\sqrt{3}}{2}"),
        ("Set: \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("\\boxed{\\boxed{5}}", "5"),
        ("\\fbox{12}", "12"),
        ("spaces \\boxed {  7 } ok", "7"),
        ("an empty box after an answer: \\boxed{9} \\boxed{}", "9"),
        ("so the answer is 7", "7"),
        ("$\\frac{7}{2}$", "\\frac{7}{2}"),
        ("The final answer is $x = 3$. I hope it is correct.", "x = 3"),
        ("Answer: 1,000 apples", "1000"),
        ("7", "7"),
        ("Long reasoning. " * 20 + "So the final answer is $\\frac{7}{2}$.", "\\frac{7}{2}"),
        ("Long reasoning. " * 20 + "Answer: 12", "12"),
    ],
)
def test_extract_answer(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "I do not know.", "\\boxed{}", "\\boxed{   }", "truncated \\boxed{\\frac{7}{", "no math here at all"],
)
def test_extract_answer_none(text: str) -> None:
    assert extract_answer(text) is None


def test_extract_answer_too_long_box_is_no_answer() -> None:
    assert extract_answer("\\boxed{" + "{" * 10_000 + "}" * 10_000 + "}") is None


def test_extract_answer_fallback_reads_only_the_tail() -> None:
    text = "The answer is $5$.\n" + "blah " * 1000
    assert extract_answer(text) is None


def test_truncated_reasoning_has_no_answer() -> None:
    """Without a box or an answer phrase, the last number of a long trace is not an answer."""
    text = "Let $x = 3$ and $y = 4$, so that $x + y = 7$. " * 10 + "Then we multiply by 12 and"
    assert extract_answer(text) is None


# ---------------------------------------------------------------------------------- equivalence

EQUIVALENT = [
    ("\\frac{1}{2}", "0.5"),
    ("\\frac{1}{2}", "1/2"),
    ("\\dfrac{7}{2}", "3.5"),
    ("033", "33"),
    ("142.0", "142"),
    ("-\\frac12", "-0.5"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("106^\\circ", "106"),
    ("10^{\\circ}", "10"),
    ("\\$5", "5"),
    ("5 \\text{ cm}", "5"),
    ("1,000", "1000"),
    ("1,000,000", "10^6"),
    ("1{,}000", "1000"),
    ("1,234,567", "1234567"),
    ("1,2", "\\{1, 2\\}"),
    ("50\\%", "0.5"),
    ("[1,3)", "[1, 3)"),
    ("(-\\infty, 2]", "(-\\infty,2]"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    ("x=5", "5"),
    ("\\text{(B)}", "B"),
    ("\\text{Evelyn}", "Evelyn"),
    ("p - q", "-q + p"),
    ("1\\,000", "1000"),  # a thin space between digit groups is a thousands separator
]

NOT_EQUIVALENT = [
    ("\\frac{7}{2}", "2\\sqrt{3}"),
    ("12", "13"),
    ("1,2", "12"),
    ("[1,3)", "[1,3]"),
    ("\\{1, 2\\}", "\\{1, 3\\}"),
    ("-5", "5"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_equivalent_forms(a: str, b: str) -> None:
    assert answers_equivalent(a, b)
    assert answers_equivalent(b, a)


@pytest.mark.parametrize(("a", "b"), NOT_EQUIVALENT)
def test_different_answers(a: str, b: str) -> None:
    assert not answers_equivalent(a, b)
    assert not answers_equivalent(b, a)


def test_none_is_never_equivalent() -> None:
    assert not answers_equivalent(None, None)
    assert not answers_equivalent("5", None)
    assert not is_correct(None, "5")
    assert not is_correct("5", None)


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("142", "142.0"),
        ("33", "033"),
        ("0.5", "\\frac{1}{2}"),
        ("106", "106^\\circ"),
        ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ],
)
def test_is_correct_against_dataset_golds(answer: str, gold: str) -> None:
    assert is_correct(answer, gold)
    assert is_correct(gold, answer)
    assert not is_correct("999", gold)


PLAIN_NUMBERS = [
    *["0", "7", "-5", "+5", "033", "1000", "123456789012345678901234567890"],
    *[
        "\\frac{7}{2}",
        "\\dfrac{62}{8}",
        "\\tfrac{3}{4}",
        "-\\frac{7}{2}",
        "\\frac{-7}{2}",
        "\\frac{4}{2}",
        "\\frac{0}{5}",
    ],
    *["7/2", "-7/2", "10/4", "0/3"],
    *["7.75", "-7.75", "0.25", "-0.5", "00.5", "2.50", "10.0", "0.0", "3.14159265358979323846"],
]


@pytest.mark.parametrize("text", PLAIN_NUMBERS)
def test_plain_number_fast_path_matches_math_verify(text: str) -> None:
    """The helper builds plain numbers itself; it must build exactly what math-verify builds."""
    import logging

    from math_verify import parse

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    fast = math_verify_worker._parse_plain_number(text)
    slow = parse("\\boxed{" + text + "}", parsing_timeout=None)
    assert fast is not None
    assert (type(fast[0]), fast[0], getattr(fast[0], "_prec", None)) == (
        type(slow[0]),
        slow[0],
        getattr(slow[0], "_prec", None),
    )


@pytest.mark.parametrize("text", ["0.5", ".5", "\\frac{1}{0}", "1/0", "\\frac72", "1,000", "2^{10}"])
def test_plain_number_fast_path_leaves_special_cases_to_math_verify(text: str) -> None:
    assert math_verify_worker._parse_plain_number(text) is None


# ----------------------------------------------------------------------------------------- vote


def test_equivalent_forms_form_one_cluster() -> None:
    result = vote_on_answers(["\\frac{1}{2}", "3", "0.5", "1/2", None, "3"])
    assert result == VoteResult(
        label="0.5",  # the most frequent spelling, then the shortest
        matches=[True, False, True, True, False, False],
        answers=["\\frac{1}{2}", "3", "0.5", "1/2", None, "3"],
        ratio=0.5,
    )


def test_majority_vote_end_to_end() -> None:
    completions = [
        "So x = 7/2, i.e. \\boxed{\\frac{7}{2}}.",
        "We get \\boxed{3.5}",
        "Thus \\boxed{4}",
        "I give up.",
        "Finally \\boxed{\\dfrac{7}{2}}",
    ]
    result = majority_vote(completions)
    assert result.label == "3.5"
    assert result.matches == [True, True, False, False, True]
    assert result.answers == ["\\frac{7}{2}", "3.5", "4", None, "\\dfrac{7}{2}"]
    assert result.ratio == pytest.approx(0.6)


def test_tie_goes_to_the_answer_seen_first() -> None:
    assert vote_on_answers(["4", "0.5", "\\frac12", "004"]).label == "4"
    assert vote_on_answers(["0.5", "4", "004", "\\frac12"]).label == "0.5"


def test_single_completion_wins_alone() -> None:
    result = majority_vote(["\\boxed{17}"])
    assert (result.label, result.matches, result.ratio) == ("17", [True], 1.0)


def test_no_answer_gives_no_label() -> None:
    result = vote_on_answers([None, None, None])
    assert result == VoteResult(label=None, matches=[False] * 3, answers=[None] * 3, ratio=0.0)
    assert vote_on_answers([]) == VoteResult(label=None, matches=[], answers=[], ratio=0.0)


def test_none_never_wins_even_as_the_largest_group() -> None:
    result = vote_on_answers([None, None, None, "5"])
    assert (result.label, result.matches, result.ratio) == ("5", [False, False, False, True], 0.25)


def test_leading_zeros_and_signs() -> None:
    assert vote_on_answers(["033", "33", "-33", "+33"]).matches == [True, True, False, True]


def test_vote_is_deterministic() -> None:
    answers = ["\\sqrt{12}", "2\\sqrt{3}", "3.46", "\\frac{7}{2}", "3.5", "7/2", None]
    first = vote_on_answers(answers)
    voting.clear_caches()
    assert vote_on_answers(answers) == first
    assert first.label == "3.5"  # 3.46 is not 2*sqrt(3) after rounding to 6 decimals


def test_new_answers_are_compared_with_representatives_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = voting._equivalent

    def counting(gold: str, answer: str) -> bool:
        calls.append((gold, answer))
        return real(gold, answer)

    monkeypatch.setattr(voting, "_equivalent", counting)
    result = vote_on_answers(["1", "2", "1.0", "3", "2.0", "1", "\\frac{2}{2}"])
    assert result.label == "1"
    assert {gold for gold, _ in calls} <= {"1", "2", "3"}
    assert len(calls) == len(set(calls))  # every distinct string parsed and compared once per pair


def test_answers_keep_what_was_extracted() -> None:
    result = vote_on_answers(["  5 ", "5"])
    assert result.answers == ["  5 ", "5"]
    assert result.label == "5"
    assert result.matches == [True, True]


# -------------------------------------------------------------------------------- bounded time

PATHOLOGICAL = [
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{" + "{" * 10_000 + "}" * 10_000 + "}",
    "\\boxed{" + "\\frac{" * 60 + "1}{2}" * 60 + "}",
]


def test_pathological_completions_time_out_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signal-based timeouts do not work outside the main thread; ours must."""
    monkeypatch.setattr(voting, "ANSWER_TIMEOUT_S", 0.5)
    completions = [*PATHOLOGICAL, "\\boxed{\\frac{9}{2}}", "so the answer is 4.5", "\\boxed{9^{9^{9^{7}}}}"]
    box: dict[str, VoteResult] = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", majority_vote(completions)))
    start = time.monotonic()
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert time.monotonic() - start < 30
    result = box["result"]
    assert result.label == "4.5"
    assert result.matches == [False, False, False, True, True, False]


def test_stuck_helper_is_killed_and_replaced() -> None:
    """A hang that no signal interrupts (as in C code) costs one budget, then a fresh helper."""
    box: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: box.setdefault("reply", math_verify_worker.CLIENT.call(("_hang", 60), 1.0, "gone"))
    )
    start = time.monotonic()
    thread.start()
    thread.join(timeout=30)
    assert box["reply"] == "gone"
    assert time.monotonic() - start < 10
    assert answers_equivalent("\\frac{3}{4}", "0.75")


def test_concurrent_votes_from_threads_agree() -> None:
    answers = ["\\frac{3}{8}", "0.375", "3/8", "\\sqrt{2}", None, "1.41421356"]
    expected = vote_on_answers(answers)
    results: list[VoteResult] = []
    threads = [threading.Thread(target=lambda: results.append(vote_on_answers(answers))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [expected] * 4
    assert expected.label == "3/8" and expected.ratio == 0.5
