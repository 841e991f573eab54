"""Rewrite the Unicode and thousands-separator forms models write into the LaTeX math-verify reads.

math-verify parses LaTeX: ``90°`` is not ``90^\\circ`` to it, ``−5`` (U+2212) is not ``-5``, and
``\\frac{20{,}000}{\\pi}`` is not ``\\frac{20000}{\\pi}`` (it removes thousands separators only from a
bare number). Every answer goes through ``normalize_math_text`` before it is parsed, so these forms
grade like their ASCII spellings. ASCII text without ``\\,`` / ``{,}`` / ``\\frac{d,ddd}`` returns
unchanged at the cost of a few string checks (so there is no cache: completion tails are unique).
"""

from __future__ import annotations

import re

_CHARACTERS = {
    "\u2212": "-",  # minus sign
    "\u00d7": "\\times ",
    "\u22c5": "\\cdot ",  # dot operator
    "\u00b7": "\\cdot ",  # middle dot
    "\u03c0": "\\pi ",
    "\u221e": "\\infty ",
    "\u2264": "\\le ",
    "\u2265": "\\ge ",
    "\u2260": "\\ne ",
    "\u00b0": "^\\circ ",
    "\u00a0": " ",  # no-break space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
    "\u2007": " ",  # figure space
    "\u200a": " ",  # hair space
}
_CHARACTER_RE = re.compile("|".join(map(re.escape, _CHARACTERS)))
_THOUSANDS_SPACE_RE = re.compile(r"(?<=\d)(?:\\,|\{,\}|[\u00a0\u2009\u202f\u2007\u200a])(?=\d{3}(?!\d))")
"""A thin / no-break space, ``\\,`` or ``{,}`` between a digit and a group of exactly three digits."""
_FRACTION_THOUSANDS_RE = re.compile(r"(\\[dt]?frac\{|\\[dt]?frac\{[^{}]{1,100}\}\{)(\d{1,3}(?:,\d{3})+)(?=\})")
"""A ``\\frac`` numerator or denominator that is a comma-grouped integer (a set cannot sit there)."""
_SQRT_RE = re.compile(r"\u221a\s*(\d+(?:\.\d+)?|[A-Za-z]|\\[A-Za-z]+|\([^()]{1,100}\))")
"""``√2``, ``√x``, ``√\\pi``, ``√(a+b)``: the radicand a model means; ``√{...}`` just needs the command."""


def normalize_math_text(text: str) -> str:
    """``text`` with Unicode math characters spelled in LaTeX and digit-group separators removed."""
    if not text.isascii():
        text = _THOUSANDS_SPACE_RE.sub("", text)  # before the spaces become plain spaces
        text = _SQRT_RE.sub(lambda m: "\\sqrt{" + _strip_parens(m.group(1)) + "}", text)
        text = text.replace("\u221a", "\\sqrt")
        text = _CHARACTER_RE.sub(lambda m: _CHARACTERS[m.group()], text)
    elif "\\," in text or "{,}" in text:
        text = _THOUSANDS_SPACE_RE.sub("", text)
    if "frac" in text and "," in text:
        text = _FRACTION_THOUSANDS_RE.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), text)
    return text.strip()


def _strip_parens(radicand: str) -> str:
    return radicand[1:-1] if radicand.startswith("(") else radicand
