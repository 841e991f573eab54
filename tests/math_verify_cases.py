"""Math-Verify's public test cases, run through our grading API.

The cases: every (gold, prediction, expected verdict) of Math-Verify's own test suite
(https://github.com/huggingface/Math-Verify, MIT licence, ``tests/``: the files in
``UPSTREAM_FILES``), vendored in ``tests/data/math_verify_cases.json`` with the upstream commit,
the options each upstream test passes to ``compare_strings`` and plain math-verify's verdict under
our options. Not vendored: ``test_string_extraction`` (string targets, not math) and
``test_configs`` / ``test_timeout`` / ``test_raise_on_error`` (API behaviour, no cases).

Through our API, both texts go through ``extract_answer`` (as a dataset gold is stored, as a
completion is read), then ``is_correct(pred_answer, gold_answer)``.

    python tests/math_verify_cases.py                      # agreement figures, skips, direction rules
    python tests/math_verify_cases.py --vendor PATH [SHA]   # refresh the table from a Math-Verify checkout
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

CASES_FILE = Path(__file__).with_name("data") / "math_verify_cases.json"
UPSTREAM_FILES = ["test_all", "test_boxed", "test_numina_cases", "test_open_thoughts", "test_strict", "test_yujianll"]
UPSTREAM_DEFAULTS = {
    "match_types": ["latex", "expr"],
    "precision": 6,
    "strict": True,
    "allow_set_relation_comp": False,
}
"""``compare_strings``'s defaults in Math-Verify's ``tests/test_all.py``."""
OUR_OPTIONS = {"match_types": ["latex", "expr"], "precision": 6, "strict": True, "allow_set_relation_comp": True}
"""The extraction targets and verify options our API grades with (``extract_answer``, ``answers_equivalent``)."""


def load_cases() -> list[dict]:
    return json.loads(CASES_FILE.read_text())["cases"]


def skip_reason(case: dict) -> str | None:
    """Why an upstream case cannot be run through our API, or None when it is used.

    Skipped: cases whose expected verdict depends on an extraction target or verify option our
    API fixes otherwise (plain math-verify gives another verdict with our options), and long
    predictions without a box or an "answer" phrase in their last ``FALLBACK_TAIL_CHARS``
    characters, which have no answer by design.
    """
    if case["math_verify_with_our_options"] != case["expected"]:
        changed = ", ".join(f"{k}={case[k]}" for k, v in OUR_OPTIONS.items() if case[k] != v)
        return f"upstream's verdict holds only with its own options ({changed})"
    from ttrl_trl.vote.voting import BARE_ANSWER_CHARS, FALLBACK_TAIL_CHARS

    text = case["pred"]
    if len(text.strip()) > BARE_ANSWER_CHARS and "boxed" not in text:
        if "answer" not in text[-FALLBACK_TAIL_CHARS:].lower():
            return "long prediction without a box or an 'answer' phrase near its end: no answer by design"
    return None


def _options(func) -> dict[str, object]:
    """Keyword options of the test's ``compare_strings`` call: a literal, or the name of a parameter."""
    options: dict[str, object] = dict(UPSTREAM_DEFAULTS)
    for node in ast.walk(ast.parse(inspect.getsource(func).lstrip())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "compare_strings":
            for keyword in node.keywords:
                value = keyword.value
                options[keyword.arg] = {"param": value.id} if isinstance(value, ast.Name) else ast.literal_eval(value)
    return options


def vendor(repo: Path, commit: str | None = None) -> dict:
    """The case table from a checkout of Math-Verify (``commit`` names it when git cannot)."""
    sys.path.insert(0, str(repo))
    cases = []
    for module_name in UPSTREAM_FILES:
        module = importlib.import_module(f"tests.{module_name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            marks = [m for m in getattr(func, "pytestmark", []) if m.name == "parametrize"]
            if not name.startswith("test_") or not marks:
                continue
            argnames = [a.strip() for a in marks[0].args[0].split(",")]
            template = _options(func)
            for index, values in enumerate(marks[0].args[1]):
                row = dict(zip(argnames, values, strict=True))
                options = {k: row[v["param"]] if isinstance(v, dict) else v for k, v in template.items()}
                for key in ("strict", "allow_set_relation_comp"):  # some tests parametrize these directly
                    options[key] = row.get(key, options[key])
                expected = row.get("expected", row.get("result"))
                case = {"id": f"{module_name}::{name}[{index}]", "gold": row["gold"], "pred": row["pred"]}
                case.update(expected=bool(expected), **options)
                case["math_verify_with_our_options"] = math_verify_verdict({**case, **OUR_OPTIONS})
                cases.append(case)
    commit = (
        commit or subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    )
    return {
        "source": "https://github.com/huggingface/Math-Verify (tests/, MIT licence)",
        "commit": commit or None,
        "cases": cases,
    }


def our_verdict(case: dict) -> bool:
    from ttrl_trl.vote.voting import extract_answer, is_correct

    return is_correct(extract_answer(case["pred"]), extract_answer(case["gold"]))


def math_verify_verdict(case: dict) -> bool:
    """Plain math-verify with the upstream test's own options (checks the vendored table)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    targets = [
        LatexExtractionConfig(boxed_match_priority=0) if t == "latex" else ExprExtractionConfig()
        for t in case["match_types"]
    ]
    gold, pred = parse(case["gold"], targets), parse(case["pred"], targets)
    options = {"float_rounding": case["precision"], "strict": case["strict"]}
    return bool(verify(gold, pred, allow_set_relation_comp=case["allow_set_relation_comp"], **options))


def disagreements(verdict: Callable[[dict], bool], cases: list[dict]) -> list[dict]:
    return [case for case in cases if verdict(case) != case["expected"]]


def direction_rules(cases: list[dict]) -> dict[str, tuple[int, int]]:
    """(false accepts, false rejections) of each way to make math-verify's verdict symmetric,
    on our extracted answers: the figures quoted in ``answers_equivalent``'s docstring."""
    from math_verify import verify

    from ttrl_trl.vote.math_verify_worker import _parse_answer
    from ttrl_trl.vote.voting import _clean, extract_answer

    verdicts = []
    for case in cases:
        answers = [_clean(extract_answer(case[side])) for side in ("gold", "pred")]
        parsed = [_parse_answer(a) if a is not None else None for a in answers]
        if None in parsed:
            verdicts.append((case["expected"], {}))
            continue
        gold, pred = (p.exprs for p in parsed)
        verdicts.append(
            (
                case["expected"],
                {
                    (first, relations): bool(verify(*pair, allow_set_relation_comp=relations))
                    for first, pair in (("gold", (gold, pred)), ("pred", (pred, gold)))
                    for relations in (False, True)
                },
            )
        )
    rules = {
        "gold first (before)": lambda v: v[("gold", False)],
        "either direction": lambda v: v[("gold", False)] or v[("pred", False)],
        "both directions": lambda v: v[("gold", False)] and v[("pred", False)],
        "either, set-relation on": lambda v: v[("gold", True)] or v[("pred", True)],
        "both, set-relation on (ours)": lambda v: v[("gold", True)] and v[("pred", True)],
    }
    figures = {}
    for name, rule in rules.items():
        said = [(expected, bool(v) and rule(v)) for expected, v in verdicts]
        figures[name] = (sum(s and not e for e, s in said), sum(e and not s for e, s in said))
    return figures


def write_table(table: dict) -> None:
    """One case per line, so that a refresh reads as a small diff."""
    rows = ",\n".join(json.dumps(case, ensure_ascii=False) for case in table.pop("cases"))
    CASES_FILE.write_text(json.dumps(table, ensure_ascii=False)[:-1] + ', "cases": [\n' + rows + "\n]}\n")


def main(argv: list[str]) -> None:
    logging.disable(logging.WARNING)
    if argv[:1] == ["--vendor"]:
        write_table(vendor(Path(argv[1]).resolve(), argv[2] if len(argv) > 2 else None))
        print(f"wrote {len(load_cases())} cases to {CASES_FILE}")
        return
    cases = load_cases()
    used = [c for c in cases if skip_reason(c) is None]
    print(f"{len(cases)} upstream cases, {len(used)} used, {len(cases) - len(used)} skipped:")
    for case in cases:
        if (reason := skip_reason(case)) is not None:
            print(f"  skip {case['id']}: {reason}")
    wrong = disagreements(our_verdict, used)
    false_accepts = sum(not c["expected"] for c in wrong)
    print(f"ours: {1 - len(wrong) / len(used):.2%} agreement ({len(wrong)} wrong: {false_accepts} false accepts)")
    for case in wrong:
        print(f"  {case['id']}: expected {case['expected']}: {case['gold'][:80]!r} vs {case['pred'][:80]!r}")
    for name, (accepts, rejections) in direction_rules(used).items():
        print(f"rule {name}: {accepts} false accepts, {rejections} false rejections")
    if "--math-verify" in argv:
        wrong = disagreements(math_verify_verdict, cases)
        print(f"plain math-verify, upstream options, all cases: {len(wrong)} wrong of {len(cases)}")


if __name__ == "__main__":
    main(sys.argv[1:])
