"""The final ``\\boxed{}`` answer of a completion, including an answer written as several boxes.

Models box a multi-part answer as ``\\boxed{(2, 2)} \\quad\\text{and}\\quad \\boxed{(6, 2)}``; reading
only the last box would grade half of it. math-verify's convention (latex2sympy2_extended's
``extract_boxed_content``, mode "last") walks back from the last box and joins the previous one
when fewer than 10 characters separate them, or when fewer than 70 do, they contain a separator
(``and``, ``or``, ``,``, ``;``) and the two contents differ; the contents are joined with ``,``.
We keep that and add one condition to the 70-character case, so that boxes of earlier working steps
(``First \\boxed{3}, then on reflection \\boxed{7/2}``) do not join: besides separators, spacing,
``\\text{}``, math delimiters, variable labels (``y_2 =``) and part labels (``for part (a)``), the text
between may hold at most one word (a unit: ``\\boxed{1} papers and \\boxed{2} bins``). And at any
distance, a word that revises the earlier box (``no``, ``wait``, ``so``, ``actually``, ...) keeps
the boxes apart: in ``\\boxed{3}. No, \\boxed{4}`` the answer is ``4``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE_TOKEN_RE = re.compile(r"\\.|[{}]", re.DOTALL)
_SEPARATOR_RE = re.compile(r"\b(?:and|or)\b|,|;")  # latex2sympy2_extended's VALID_SEPARATOR_PATTERN
_FILLER_RE = re.compile(
    r"\\(?:q?quad|text|mathrm|textbf|mbox)\b|\\[,;:! ]|\\[()\[\]]|[${}~*,;]"
    r"|\b(?:and|or|for|parts?)\b|\([a-z]\)|[A-Za-z](?:_\{?\w{1,3}\}?)?\s*="
)
_REVISION_RE = re.compile(
    r"\b(?:no|not|wait|but|so|then|thus|hence|therefore|actually|instead|rather|correction|oops|hmm)\b",
    re.IGNORECASE,
)
"""Words that, between two boxes, mean the later box replaces the earlier one (never joined)."""
ADJACENT_CHARS = 10
"""Boxes this close join whatever separates them, revision words aside (math-verify's rule)."""
SEPARATED_CHARS = 70
"""Boxes this close join when only separators and labels lie between them."""


@dataclass(frozen=True)
class Box:
    """One complete box: ``text[start:end]`` is ``\\boxed{content}``."""

    start: int
    end: int
    content: str


def final_boxed_answer(text: str, max_chars: int) -> Box | None:
    """The last non-empty complete box, joined with the boxes that belong to the same answer.

    The returned ``Box`` spans from the first joined box to the last one; ``content`` is the
    joined answer (contents in order, consecutive repeats once, separated by ``,``).
    """
    boxes = _complete_boxes_backwards(text, max_chars)
    last = next(boxes, None)
    if last is None:
        return None
    group = [last]
    for box in boxes:
        later = group[-1]
        if box.end > later.start or not _joins(text[box.end : later.start], box.content, later.content):
            break  # a box containing the group, or one from the working steps
        group.append(box)
    contents = [box.content for box in reversed(group)]
    unique = [c for i, c in enumerate(contents) if i == 0 or c != contents[i - 1]]
    return Box(start=group[-1].start, end=last.end, content=",".join(unique))


def _joins(between: str, earlier: str, later: str) -> bool:
    if _REVISION_RE.search(between):
        return False
    if len(between) < ADJACENT_CHARS:
        return True
    if earlier == later or len(between) >= SEPARATED_CHARS or not _SEPARATOR_RE.search(between):
        return False
    rest = _FILLER_RE.sub(" ", between).split()
    return not rest or (len(rest) == 1 and rest[0].isalpha())


def _complete_boxes_backwards(text: str, max_chars: int) -> Iterator[Box]:
    """Boxes whose braces close within ``max_chars`` and whose content is not empty, last first."""
    for match in reversed(list(_BOX_RE.finditer(text))):
        end = _closing_brace(text, match.end(), max_chars)
        if end is not None and (content := text[match.end() : end].strip()):
            yield Box(start=match.start(), end=end + 1, content=content)


def _closing_brace(text: str, start: int, max_chars: int) -> int | None:
    """Index of the brace closing the one just before ``start``, if within ``max_chars``."""
    depth = 1
    for token in _BRACE_TOKEN_RE.finditer(text, start, min(len(text), start + max_chars + 1)):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth == 0:
                return token.start()
    return None
