"""What a candidate may send as an answer, and how it maps back for scoring.

A response names options by their position *on the candidate's paper*
(``invigil.content.paper``). :func:`check` refuses what cannot be an answer
to that question (a wrong shape, an index off the paper, a text too long):
such an item is rejected with a reason and never stored. A response of the
right shape that is simply wrong is the candidate's answer and is kept.
:func:`to_stored` turns a stored response into canonical positions, which is
what :mod:`invigil.content.scoring` reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from invigil.security.inputs import json_problem

MAX_SHORT_TEXT = 1000
MAX_ESSAY = 60_000
MAX_NUMERIC_TEXT = 50
MAX_RESPONSE_BYTES = 256 * 1024


def _is_int(value: Any) -> bool:
    return type(value) is int


def check(slot: Mapping[str, Any], response: Any) -> str | None:
    """Why ``response`` cannot answer ``slot`` (a paper slot), or ``None``."""
    if response is None:
        return None  # cleared
    kind = slot["type"]
    n = len(slot.get("option_order", ()))
    if kind == "single_choice":
        if not _is_int(response) or not 0 <= response < n:
            return f"choose one of the {n} choices (0 to {n - 1})"
    elif kind == "multiple_choice":
        if not isinstance(response, list) or not all(_is_int(r) and 0 <= r < n for r in response):
            return f"send a list of choices between 0 and {n - 1}"
        if len(set(response)) != len(response):
            return "a choice appears twice"
    elif kind == "true_false":
        if not isinstance(response, bool):
            return "send true or false"
    elif kind == "numeric":
        if isinstance(response, bool) or not isinstance(response, int | float | str):
            return "send a number"
        if isinstance(response, float) and not math.isfinite(response):
            return "send a finite number"
        if isinstance(response, str) and len(response) > MAX_NUMERIC_TEXT:
            return f"a number has at most {MAX_NUMERIC_TEXT} characters"
    elif kind == "short_text":
        if not isinstance(response, str) or len(response) > MAX_SHORT_TEXT:
            return f"send text of at most {MAX_SHORT_TEXT} characters"
    elif kind == "essay":
        if not isinstance(response, str) or len(response) > MAX_ESSAY:
            return f"send text of at most {MAX_ESSAY} characters"
    elif kind == "ordering":
        if (
            not isinstance(response, list)
            or not all(_is_int(r) for r in response)
            or sorted(response) != list(range(n))
        ):
            return f"send every item position from 0 to {n - 1} once, in your order"
    elif kind == "matching":
        if not isinstance(response, list) or len(response) != n:
            return f"send a list of {n} matches (a right-hand position or null for each)"
        if not all(r is None or (_is_int(r) and 0 <= r < n) for r in response):
            return f"each match is a right-hand position from 0 to {n - 1}, or null"
    else:
        return f"unknown question type {kind}"
    if (found := json_problem(response)) is not None:  # a NUL, an escaped lone surrogate
        return f"the answer {found[1]}"
    # The size stored: UTF-8, not the ASCII escapes json.dumps writes by
    # default (six bytes a letter outside ASCII, which refused a full-length
    # essay in most scripts).
    if len(json.dumps(response, ensure_ascii=False).encode()) > MAX_RESPONSE_BYTES:
        return "the answer is too large"
    return None


def to_stored(slot: Mapping[str, Any], response: Any) -> Any:
    """Paper positions -> canonical (stored) positions, for scoring."""
    if response is None:
        return None
    order = list(slot.get("option_order", ()))
    kind = slot["type"]
    if kind == "single_choice":
        return order[response]
    if kind in ("multiple_choice", "ordering"):
        return [order[r] for r in response]
    if kind == "matching":
        return [None if r is None else order[r] for r in response]
    return response
