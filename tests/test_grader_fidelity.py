"""Issue 14's classes: several final boxes, Unicode that models write, one verdict whatever the
argument order, the last stated answer winning, and the deliberate no-answer rule. Every
equivalence is checked in both argument orders."""

from __future__ import annotations

import random

import pytest

from ttrl_trl.vote.voting import answers_equivalent, extract_answer, is_correct, majority_vote, vote_on_answers


def _equivalent_both_ways(a: str, b: str) -> bool:
    forward, backward = answers_equivalent(a, b), answers_equivalent(b, a)
    assert forward == backward, (a, b)
    return forward


# ------------------------------------------------------------------------ 1. several final boxes


@pytest.mark.parametrize(
    ("completion", "extracted", "gold"),
    [
        ("So $\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}$", "(2, 2),(6, 2)", "(2, 2), (6, 2)"),
        ("The primes are \\boxed{2}, \\boxed{3}, \\boxed{5}.", "2,3,5", "\\{2, 3, 5\\}"),
        ("\\boxed{1} and \\boxed{2} and \\boxed{3}", "1,2,3", "1, 2, 3"),
        ("\\boxed{1},\\boxed{2},\\boxed{3}", "1,2,3", "\\{1,2,3\\}"),
        ("$\\boxed{k = 45} \\quad \\text{and} \\quad \\boxed{n = 2}$", "k = 45,n = 2", "k = 45, n = 2"),
        ("\\( y_1 = \\boxed{3} \\) and \\( y_2 = \\boxed{5} \\)", "3,5", "\\{3, 5\\}"),
        ("$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$", "(3, 3),(1, 1)", "(3,3),(1,1)"),
        ("\\boxed{1} papers and \\boxed{2} bins", "1,2", "\\{1, 2\\}"),
        ("\\boxed{004} is it. **Final Answer** \\boxed{004}", "004", "4"),
    ],
)
def test_several_final_boxes_form_one_answer(completion: str, extracted: str, gold: str) -> None:
    assert extract_answer(completion) == extracted
    assert _equivalent_both_ways(extracted, gold)


@pytest.mark.parametrize(
    ("completion", "extracted"),
    [
        ("First \\boxed{3}, then on reflection \\boxed{\\frac{7}{2}}.", "\\frac{7}{2}"),
        ("\\boxed{3}. No, \\boxed{4}", "4"),
        ("\\boxed{3}, so \\boxed{4}", "4"),
        ("Step one gives \\boxed{12}.\n\nAdding the two cases, the total is \\boxed{20}.", "20"),
        ("\\boxed{\\boxed{5}}", "5"),
        ("an empty box after an answer: \\boxed{9} \\boxed{}", "9"),
    ],
)
def test_boxes_of_earlier_steps_do_not_join(completion: str, extracted: str) -> None:
    assert extract_answer(completion) == extracted


def test_a_partial_multi_box_answer_is_wrong() -> None:
    answer = extract_answer("\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}")
    assert not _equivalent_both_ways(answer, "(2, 2)")
    assert not _equivalent_both_ways(answer, "(2, 2), (6, 3)")


# ---------------------------------------------------------------------------------- 2. Unicode

UNICODE_EQUIVALENT = [
    ("90°", "90^\\circ"),
    ("90°", "90"),
    ("\u22125", "-5"),
    ("3 × 4", "12"),
    ("2·3", "6"),
    ("√2", "\\sqrt{2}"),
    ("2√3", "\\sqrt{12}"),
    ("√(a+b)", "\\sqrt{a+b}"),
    ("π/2", "\\frac{\\pi}{2}"),
    ("3π", "3\\pi"),
    ("(\u2212∞, 2]", "(-\\infty, 2]"),
    ("x ≤ 3", "x \\le 3"),
    ("1\u00a0000", "1000"),
    ("1\u2009000\u2009000", "1000000"),
    ("12\u202f345", "12345"),
    ("1\\,000", "1000"),
    ("20{,}000", "20000"),
    ("\\frac{20{,}000}{\\pi}", "\\frac{20000}{\\pi}"),
    ("\\frac{1\\,000}{3}", "\\frac{1000}{3}"),
    ("\\dfrac{20,000}{\\pi}", "\\frac{20000}{\\pi}"),
    ("\\frac{\\pi}{1{,}000}", "\\frac{\\pi}{1000}"),
]
UNICODE_DIFFERENT = [
    ("\u22125", "5"),
    ("90°", "91"),
    ("√2", "2"),
    ("\\frac{20{,}000}{\\pi}", "\\frac{20}{\\pi}"),
    ("2π", "2"),
]


@pytest.mark.parametrize(
    ("a", "b", "equivalent"),
    [(a, b, True) for a, b in UNICODE_EQUIVALENT] + [(a, b, False) for a, b in UNICODE_DIFFERENT],
)
def test_unicode_forms_grade_like_their_latex(a: str, b: str, equivalent: bool) -> None:
    assert _equivalent_both_ways(a, b) == equivalent


@pytest.mark.parametrize(
    ("completion", "gold"),
    [
        ("The angle is \\boxed{90°}.", "90^\\circ"),
        ("So the answer is 45°.", "45"),
        ("Final answer: \u22127", "-7"),
        ("Thus \\boxed{20{,}000}", "20000"),
    ],
)
def test_unicode_in_completions(completion: str, gold: str) -> None:
    assert is_correct(extract_answer(completion), gold)


# ------------------------------------------------------------------------------- 3. symmetry

ORDER_SENSITIVE_IN_MATH_VERIFY_EQUIVALENT = [
    ("x \\in [-2,7]", "-2 \\le x \\le 7"),
    ("1\\leq|z|\\leq \\frac{3}{2}", "z \\in [-\\frac{3}{2}, -1] \\cup [1, \\frac{3}{2}]"),
    ("0<f(x)<1", "(0,1)"),
    ("-793 < a < 10", "(-793, 10)"),
]
ORDER_SENSITIVE_IN_MATH_VERIFY_DIFFERENT = [
    ("a + 3z = 0", "0"),
    ("2x + z = 1", "1"),
    ("7 = 11a+c", "11a+c"),
    ("(3,1)", "\\{1,3\\}"),
]


@pytest.mark.parametrize(
    ("a", "b", "equivalent"),
    [(a, b, True) for a, b in ORDER_SENSITIVE_IN_MATH_VERIFY_EQUIVALENT]
    + [(a, b, False) for a, b in ORDER_SENSITIVE_IN_MATH_VERIFY_DIFFERENT],
)
def test_one_verdict_in_both_orders(a: str, b: str, equivalent: bool) -> None:
    """Sets written as relations match in both orders; one-way matches (an equation read by its
    right-hand side, a tuple for a set) match in neither."""
    assert _equivalent_both_ways(a, b) == equivalent


def test_is_correct_does_not_depend_on_which_side_is_gold() -> None:
    for a, b in ORDER_SENSITIVE_IN_MATH_VERIFY_EQUIVALENT + ORDER_SENSITIVE_IN_MATH_VERIFY_DIFFERENT:
        assert is_correct(a, b) == is_correct(b, a)


VOTES = [
    ["x \\in [-2,7]", "-2 \\le x \\le 7", "[-2, 7]", "x \\in [-2,7]", "(-2, 7)", "0", "a + 3z = 0", None],
    ["\\frac{1}{2}", "0.5", "1/2", "3", "3", "3.0", None, "\\frac12"],
    ["90°", "90^\\circ", "90", "\u22125", "-5", "45", None],
]


@pytest.mark.parametrize("answers", VOTES)
def test_vote_on_shuffled_answers_gives_the_same_result(answers: list[str | None]) -> None:
    reference = vote_on_answers(answers)
    assert reference.label is not None
    rng = random.Random(0)
    for _ in range(6):
        order = list(range(len(answers)))
        rng.shuffle(order)
        result = vote_on_answers([answers[i] for i in order])
        assert result.label == reference.label
        assert result.ratio == reference.ratio
        assert result.matches == [reference.matches[i] for i in order]


def test_vote_on_shuffled_completions_gives_the_same_label() -> None:
    completions = [
        "Hence $\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}$.",
        "The solutions are \\boxed{(6, 2), (2, 2)}.",
        "So \\boxed{(2,2),(6,2)}",
        "Only \\boxed{(2, 2)}.",
        "I think it's \\boxed{(2, 2)}.",
        "\\boxed{255} hmm. The final answer is $(2, 2), (6, 2)$.",
        "No idea.",
    ]
    reference = majority_vote(completions)
    assert is_correct(reference.label, "(2, 2), (6, 2)")
    assert reference.matches == [True, True, True, False, False, True, False]
    rng = random.Random(1)
    for _ in range(4):
        order = list(range(len(completions)))
        rng.shuffle(order)
        result = majority_vote([completions[i] for i in order])
        assert (result.label, result.matches) == (reference.label, [reference.matches[i] for i in order])


# -------------------------------------------------------------------- 4. the last stated answer


@pytest.mark.parametrize(
    ("completion", "extracted"),
    [
        ("So we get \\boxed{255}. Adding the interest, the final answer is $10,455$.", "10455"),
        ("\\boxed{3}\n\nWait, I forgot a case. **Final Answer:** $4$", "4"),
        ("\\boxed{3}. Rechecking: the answer is \\(\\frac{7}{2}\\).", "\\frac{7}{2}"),
        ("\\boxed{5}. I believe this answer is correct.", "5"),
        ("The final answer is: \\boxed{5}", "5"),
        ("Answer: \\boxed{12}. That answer is right.", "12"),
    ],
)
def test_the_last_stated_answer_wins(completion: str, extracted: str) -> None:
    answer = extract_answer(completion)
    assert answer is not None and _equivalent_both_ways(answer, extracted)


# ------------------------------------------------------------------ deliberate: no answer at all


@pytest.mark.parametrize(
    "completion",
    [
        "Let $x = 3$ and $y = 4$, so that $x + y = 7$. " * 10 + "Then we multiply by 12 and",
        "So the answer is $5$.\n" + "Let me double-check the remaining cases one by one. " * 30,
        "We compute 90° + 45° = 135° and then " * 5,
    ],
)
def test_long_completion_without_box_or_answer_phrase_near_its_end_has_no_answer(completion: str) -> None:
    assert extract_answer(completion) is None


NUMBERS = [
    *["0.5", "1/2", "\\frac{1}{2}", "-0.5", "-\\frac{1}{2}", "3.5", "\\frac72", "0.333333", "\\frac{1}{3}", "0.33333"],
    *["2\\sqrt{3}", "\\sqrt{12}", "3.4641016", "\\pi", "3.14159265", "\\frac{\\pi}{2}", "1.5707963", "e"],
    *["10^{6}", "1000000", "1.0", "1", "0.1", "\\frac{1}{10}", "2.50", "2.5", "\\frac{\\sqrt{2}}{2}", "0.70710678"],
]


def test_math_verify_compares_plain_numbers_the_same_both_ways() -> None:
    """The helper skips the reverse comparison when both answers are plain numbers; that is only
    sound while math-verify's verdict on two numbers does not depend on their order."""
    import itertools
    import logging

    from math_verify import verify

    from ttrl_trl.vote.math_verify_worker import _parse_answer

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    parsed = {text: _parse_answer(text) for text in NUMBERS}
    assert all(p is not None and p.value is not None for p in parsed.values())
    verdicts = {
        (a, b): (
            bool(verify(parsed[a].exprs, parsed[b].exprs, allow_set_relation_comp=True)),
            bool(verify(parsed[b].exprs, parsed[a].exprs, allow_set_relation_comp=True)),
        )
        for a, b in itertools.combinations(NUMBERS, 2)
    }
    assert [pair for pair, (forward, backward) in verdicts.items() if forward != backward] == []
    assert sum(forward for forward, _ in verdicts.values()) == 16  # real equal pairs among them
    assert all(answers_equivalent(a, b) == forward for (a, b), (forward, _) in verdicts.items())
