"""Every gold answer of AIME 2024, AMC and MATH-500, boxed in a completion, survives extraction
and the vote: the voted label is the gold answer and every completion matches it; with two
distractor completions added, the gold answer still wins and the distractors do not match."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ttrl_trl.vote.voting import extract_answer, is_correct, majority_vote

REQUIRED_RATE = {"aime24": 1.0, "amc": 1.0, "math500": 0.99}
N_COMPLETIONS = 3
DISTRACTORS = ["Hence \\boxed{-98765}.", "I am not sure, maybe \\boxed{\\text{none}}."]


def _completions(gold: str) -> list[str]:
    reasoning = [
        "Let me work through this carefully. After simplifying,",
        "Checking each case in turn, we find that",
        "Putting the pieces together,",
    ]
    return [f"{text} so the final answer is \\boxed{{{gold}}}." for text in reasoning[:N_COMPLETIONS]]


def _passes(gold: str) -> bool:
    extracted = extract_answer(_completions(gold)[0])
    if extracted is None or not is_correct(extracted, gold):
        return False
    vote = majority_vote(_completions(gold))
    if vote.label is None or not is_correct(vote.label, gold) or not all(vote.matches) or vote.ratio != 1.0:
        return False
    mixed = majority_vote(_completions(gold) + DISTRACTORS)
    return is_correct(mixed.label, gold) and mixed.matches == [True] * N_COMPLETIONS + [False, False]


@pytest.mark.parametrize("name", sorted(REQUIRED_RATE))
def test_gold_answers_round_trip(shared_data: Path, name: str) -> None:
    rows = json.loads((shared_data / f"{name}.json").read_text())
    failures = [row["answer"] for row in rows if not _passes(str(row["answer"]))]
    rate = 1 - len(failures) / len(rows)
    print(f"{name}: {rate:.2%} of {len(rows)} gold answers round-trip; failures: {failures}")
    assert rate >= REQUIRED_RATE[name], failures


def test_dataset_specific_forms(shared_data: Path) -> None:
    """AMC golds are floats ("142.0") and AIME golds keep leading zeros ("025"); a model writes
    neither, so the plain integer must be graded correct against every one of them."""
    for name in ("aime24", "amc"):
        golds = [str(row["answer"]) for row in json.loads((shared_data / f"{name}.json").read_text())]
        wrong = [g for g in golds if not is_correct(str(int(float(g))), g) or is_correct(str(int(float(g)) + 1), g)]
        assert not wrong, (name, wrong)


UNICODE_SPELLINGS = [
    ("^\\circ", "°"),
    ("^{\\circ}", "°"),
    ("\\pi", "π"),
    ("\\infty", "∞"),
    ("\\times", "×"),
    ("\\cdot", "·"),
    ("\\le ", "≤ "),
    ("\\ge ", "≥ "),
    ("-", "\u2212"),
]


def _unicode_rewrite(gold: str) -> str:
    """The gold answer as a model may type it: √2, π, ∞, °, ×, ·, ≤ and the minus sign U+2212."""
    gold = re.sub(r"\\sqrt\{?(\d+)\}?", "√\\1", gold)
    for latex, character in UNICODE_SPELLINGS:
        gold = gold.replace(latex, character)
    return gold


def test_unicode_rewrites_of_gold_answers_are_correct(shared_data: Path) -> None:
    """102 gold answers change when rewritten (42 of them failed before issue 14); all must grade
    correct, extracted from a box, in both argument orders."""
    rewritten = [
        (gold, _unicode_rewrite(gold))
        for name in sorted(REQUIRED_RATE)
        for gold in (str(row["answer"]) for row in json.loads((shared_data / f"{name}.json").read_text()))
        if _unicode_rewrite(gold) != gold
    ]
    assert len(rewritten) >= 100
    wrong = [
        (gold, typed)
        for gold, typed in rewritten
        if not (
            is_correct(extract_answer(f"so the final answer is \\boxed{{{typed}}}."), gold) and is_correct(gold, typed)
        )
    ]
    assert not wrong, wrong
