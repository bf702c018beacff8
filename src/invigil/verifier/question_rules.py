"""How one answer scores, written again from the rules alone (standard library only).

This is the auditor's own reading of docs/formats/result-recomputation.md, not
a copy of Invigil's scoring module: it takes question bodies and answers as
plain JSON (dicts, lists, strings, numbers) and must agree with Invigil on
every answer, which the equivalence tests (tests/verifier) hold it to.

- :func:`fits` says whether a stored answer has a shape the question takes
  (an answer that does not is scored as no answer);
- :func:`canonical` turns positions on the candidate's paper into the
  question's own positions (the paper shows choices, items and right-hand
  sides shuffled);
- :func:`score` gives the points earned out of ``top`` (rounded down to the
  cent) and whether a person must mark the answer instead.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

CENT = Decimal("0.01")
MAX_TEXT = 1000  # a longer short-text answer never matches
MAX_PATTERN_INPUT = 200  # a pattern only sees answers this short
MAX_NUMERIC_TEXT = 50
MAX_ESSAY = 60_000
MAX_RESPONSE_BYTES = 256 * 1024
INT64 = (-(2**63), 2**63 - 1)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _storable(value: Any) -> bool:
    """No NUL, no lone surrogate, integers within 64 bits, finite numbers."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return INT64[0] <= value <= INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(str(k)) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def fits(slot: dict[str, Any], response: Any) -> bool:
    """Whether ``response`` (in paper positions) can answer the paper slot."""
    if response is None:
        return True
    kind = slot["type"]
    n = len(slot.get("option_order") or ())
    if kind == "single_choice":
        ok = _is_int(response) and 0 <= response < n
    elif kind == "multiple_choice":
        ok = (
            isinstance(response, list)
            and all(_is_int(r) and 0 <= r < n for r in response)
            and len(set(response)) == len(response)
        )
    elif kind == "true_false":
        ok = isinstance(response, bool)
    elif kind == "numeric":
        ok = not isinstance(response, bool) and (
            (isinstance(response, int))
            or (isinstance(response, float) and math.isfinite(response))
            or (isinstance(response, str) and len(response) <= MAX_NUMERIC_TEXT)
        )
    elif kind in ("short_text", "essay"):
        limit = MAX_TEXT if kind == "short_text" else MAX_ESSAY
        ok = isinstance(response, str) and len(response) <= limit
    elif kind == "ordering":
        ok = (
            isinstance(response, list)
            and all(_is_int(r) for r in response)
            and sorted(response) == list(range(n))
        )
    elif kind == "matching":
        ok = (
            isinstance(response, list)
            and len(response) == n
            and all(r is None or (_is_int(r) and 0 <= r < n) for r in response)
        )
    else:
        ok = False
    if not ok or not _storable(response):
        return False
    size = len(json.dumps(response, ensure_ascii=False).encode())
    return size <= MAX_RESPONSE_BYTES


def canonical(slot: dict[str, Any], response: Any) -> Any:
    """Paper positions -> the question's own positions."""
    if response is None:
        return None
    order = list(slot.get("option_order") or ())
    kind = slot["type"]
    if kind == "single_choice":
        return order[response]
    if kind in ("multiple_choice", "ordering"):
        return [order[r] for r in response]
    if kind == "matching":
        return [None if r is None else order[r] for r in response]
    return response


def score(body: dict[str, Any], top: Decimal, response: Any) -> tuple[Decimal, bool]:
    """``(points, needs_a_person)`` for a canonical ``response`` out of ``top``."""
    kind = body["type"]
    if kind == "essay":
        return Decimal("0.00"), True
    if kind == "short_text" and body.get("manual_credit") and _for_a_person(body, response):
        return Decimal("0.00"), True
    share = _share(body, response)
    return (top * share.numerator / share.denominator).quantize(CENT, rounding=ROUND_DOWN), False


def _share(body: dict[str, Any], response: Any) -> Fraction:
    if response is None:
        return Fraction(0)
    kind = body["type"]
    if kind == "single_choice":
        return Fraction(int(_is_int(response) and response == body["correct"]))
    if kind == "multiple_choice":
        return _multiple(body, response)
    if kind == "true_false":
        return Fraction(int(isinstance(response, bool) and response == body["correct"]))
    if kind == "numeric":
        return Fraction(int(_numeric(body, response)))
    if kind == "short_text":
        return Fraction(int(_text(body, response)))
    if kind == "ordering":
        right = isinstance(response, list) and response == list(range(len(body["items"])))
        return Fraction(int(right))
    if kind == "matching":
        return _matching(body, response)
    return Fraction(0)


def _multiple(body: dict[str, Any], response: Any) -> Fraction:
    if not isinstance(response, list | tuple) or not all(_is_int(r) for r in response):
        return Fraction(0)
    chosen = {r for r in response if 0 <= r < len(body["choices"])}
    right = set(body["correct"])
    if body.get("scoring", "all_or_nothing") == "all_or_nothing":
        return Fraction(int(chosen == right))
    net = len(chosen & right) - len(chosen - right)
    return Fraction(max(net, 0), len(right))


def _numeric(body: dict[str, Any], response: Any) -> bool:
    if isinstance(response, bool):
        return False
    if isinstance(response, str):
        try:
            response = float(response.strip().replace(",", "."))
        except ValueError:
            return False
    if not isinstance(response, int | float) or not math.isfinite(response):
        return False
    value, tolerance = float(body["value"]), float(body.get("tolerance", 0))
    slack = 1e-9 * max(1.0, abs(value))  # binary floating point: 0.1 + 0.2 is 0.3
    return abs(float(response) - value) <= tolerance + slack


def _text(body: dict[str, Any], response: Any) -> bool:
    if not isinstance(response, str) or len(response) > MAX_TEXT:
        return False
    answer = " ".join(response.split())
    if not answer:
        return False
    accepted = list(body["accepted"])
    if body.get("case_sensitive", False):
        if answer in accepted:
            return True
    elif answer.casefold() in {a.casefold() for a in accepted}:
        return True
    pattern = body.get("pattern") or None
    if pattern and len(answer) <= MAX_PATTERN_INPUT:
        flags = 0 if body.get("case_sensitive", False) else re.IGNORECASE
        return re.fullmatch(pattern, answer, flags) is not None
    return False


def _for_a_person(body: dict[str, Any], response: Any) -> bool:
    if not isinstance(response, str) or not " ".join(response.split()):
        return False
    return not _text(body, response)


def _matching(body: dict[str, Any], response: Any) -> Fraction:
    pairs = len(body["pairs"])
    if isinstance(response, dict):
        response = [response.get(str(i)) for i in range(pairs)]
    if not isinstance(response, list | tuple):
        return Fraction(0)
    right = sum(1 for i, r in enumerate(response[:pairs]) if _is_int(r) and r == i)
    if body.get("scoring", "per_pair") == "all_or_nothing":
        return Fraction(int(right == pairs))
    return Fraction(right, pairs)


def with_language_answers(body: dict[str, Any], words: dict[str, Any] | None) -> dict[str, Any]:
    """A short-text question taken in a translation's language also accepts
    the translation's own accepted answers (after the version's)."""
    if words is None or body["type"] != "short_text" or not words.get("accepted"):
        return body
    extra = [a for a in words["accepted"] if a not in body["accepted"]]
    return {**body, "accepted": [*body["accepted"], *extra]}


def essay_points(body: dict[str, Any], rows: list[dict[str, Any]], worth: Decimal) -> Decimal:
    """An essay mark's points from the rubric levels it names: the levels'
    points (each to the cent) added up, scaled when the question counts for
    other than its rubric's best (a scaled section), half-up to the cent,
    never above ``worth``. ValueError when a criterion or level is unknown."""
    chosen = {row.get("criterion"): row.get("level") for row in rows}
    if set(chosen) - {c["name"] for c in body["rubric"]}:
        raise ValueError("the mark names a criterion the rubric does not have")
    raw = Decimal(0)
    best: float = 0  # the best levels added up as doubles, as authored
    for criterion in body["rubric"]:
        levels = {lv["label"]: float(lv["points"]) for lv in criterion["levels"]}
        best += max(levels.values())
        label = chosen.get(criterion["name"])
        if label not in levels:
            raise ValueError(f"the mark names no level of the rubric for {criterion['name']!r}")
        raw += Decimal(str(levels[label])).quantize(CENT)
    top = Decimal(str(best))
    total = raw if top == worth or top <= 0 else raw * worth / top
    return min(total.quantize(CENT, rounding=ROUND_HALF_UP), worth)
