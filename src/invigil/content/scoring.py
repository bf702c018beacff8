"""Pure scoring, one rule per question type.

``score(body, points, response)`` gives ``(awarded, max, needs_human)``.
Responses refer to the canonical order stored in the body (choice, item and
right-hand positions counting from 0), never to the shuffled order a
candidate saw, so shuffling cannot change a score. A response of the wrong
shape scores 0: it is the candidate's answer, not an error.

- single_choice: the index of the choice.
- multiple_choice: a list of indices. ``all_or_nothing``: exactly the right
  set. ``proportional``: +1 per right choice selected, -1 per wrong one,
  floored at 0, divided by the number of right choices, times the points.
- true_false: a boolean.
- numeric: a number (or numeric text); right within +/- tolerance.
- short_text: text, trimmed and with runs of spaces collapsed; right if it
  equals an accepted answer (case-insensitively unless case_sensitive) or
  the pattern matches it in full. With ``manual_credit``, a non-empty answer
  that matches nothing needs a human (a grader may give part or all of the
  points) instead of scoring 0.
- essay: always needs a human (awarded 0 until graded).
- ordering: the list of item indices in the candidate's order; all or nothing.
- matching: a list where position i holds the right-hand index matched to
  left item i (or null); ``per_pair``: each right pair earns an equal share;
  ``all_or_nothing``: every pair must be right.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

from invigil.content import bodies as b

CENT = Decimal("0.01")
MAX_TEXT = 1000  # longer answers never match a short_text question
MAX_PATTERN_INPUT = 200  # patterns only see answers this short (bounded matching time)


@dataclass(frozen=True)
class Score:
    awarded: Decimal
    max: Decimal
    needs_human: bool = False


def score(body: b.Body | dict[str, Any], points: Decimal | float | str, response: Any) -> Score:
    if isinstance(body, dict):
        body = b.parse_body(body)
    top = Decimal(str(points)).quantize(CENT)
    if isinstance(body, b.Essay):
        return Score(Decimal("0.00"), top, needs_human=True)
    if isinstance(body, b.ShortText) and body.manual_credit and _for_a_human(body, response):
        return Score(Decimal("0.00"), top, needs_human=True)
    share = _share(body, response)
    awarded = (top * share.numerator / share.denominator).quantize(CENT, rounding=ROUND_DOWN)
    return Score(awarded, top)


def _share(body: b.Body, response: Any) -> Fraction:
    """The fraction of the points earned, between 0 and 1."""
    if response is None:
        return Fraction(0)
    if isinstance(body, b.SingleChoice):
        return Fraction(int(_is_int(response) and response == body.correct))
    if isinstance(body, b.MultipleChoice):
        return _multiple(body, response)
    if isinstance(body, b.TrueFalse):
        return Fraction(int(isinstance(response, bool) and response == body.correct))
    if isinstance(body, b.Numeric):
        return Fraction(int(_numeric(body, response)))
    if isinstance(body, b.ShortText):
        return Fraction(int(_text(body, response)))
    if isinstance(body, b.Ordering):
        ok = isinstance(response, list) and response == list(range(len(body.items)))
        return Fraction(int(ok))
    if isinstance(body, b.Matching):
        return _matching(body, response)
    return Fraction(0)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _multiple(body: b.MultipleChoice, response: Any) -> Fraction:
    if not isinstance(response, list | tuple) or not all(_is_int(r) for r in response):
        return Fraction(0)
    chosen = {r for r in response if 0 <= r < len(body.choices)}
    right = set(body.correct)
    if body.scoring == "all_or_nothing":
        return Fraction(int(chosen == right))
    net = len(chosen & right) - len(chosen - right)
    return Fraction(max(net, 0), len(right))


def _numeric(body: b.Numeric, response: Any) -> bool:
    if isinstance(response, bool):
        return False
    if isinstance(response, str):
        try:
            response = float(response.strip().replace(",", "."))
        except ValueError:
            return False
    if not isinstance(response, int | float) or not math.isfinite(response):
        return False
    # A little slack for binary floating point (0.1 + 0.2 within 0.3 +/- 0).
    slack = 1e-9 * max(1.0, abs(body.value))
    return abs(float(response) - body.value) <= body.tolerance + slack


def normalise(text: str) -> str:
    return " ".join(text.split())


def _text(body: b.ShortText, response: Any) -> bool:
    if not isinstance(response, str) or len(response) > MAX_TEXT:
        return False
    answer = normalise(response)
    if not answer:
        return False
    if body.case_sensitive:
        hit = answer in body.accepted
    else:
        hit = answer.casefold() in {a.casefold() for a in body.accepted}
    if hit:
        return True
    if body.pattern and len(answer) <= MAX_PATTERN_INPUT:
        flags = 0 if body.case_sensitive else re.IGNORECASE
        return re.fullmatch(body.pattern, answer, flags) is not None
    return False


def _for_a_human(body: b.ShortText, response: Any) -> bool:
    """A typed answer that no accepted answer or pattern matches."""
    if not isinstance(response, str) or not normalise(response):
        return False
    return not _text(body, response)


def _matching(body: b.Matching, response: Any) -> Fraction:
    if isinstance(response, dict):
        try:
            response = [response.get(str(i)) for i in range(len(body.pairs))]
        except TypeError:
            return Fraction(0)
    if not isinstance(response, list | tuple):
        return Fraction(0)
    right = sum(1 for i, r in enumerate(response[: len(body.pairs)]) if _is_int(r) and r == i)
    if body.scoring == "all_or_nothing":
        return Fraction(int(right == len(body.pairs)))
    return Fraction(right, len(body.pairs))


def max_points(points: Decimal | float | str) -> Decimal:
    return Decimal(str(points)).quantize(CENT)
