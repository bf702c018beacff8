"""Which marks make a response's final points, and how many points a mark gives.

Invigil's grading rules (docs/formats/result-recomputation.md, rules 6 to 8)
read again with the standard library: an essay mark's points follow from
the rubric levels it names; the latest regrade counts, else a moderation,
else the first mark, or with double marking the mean of two marks that lie
within the tolerance (half up to the cent). A response without final
points yet has none, and then no mark is folded into the result at all.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .question_rules import CENT, essay_points

HUNDRED = Decimal(100)


def final_marks(
    settings: dict[str, Any],
    waiting: dict[int, Decimal],
    bodies: dict[int, dict[str, Any]],
    marks: list[dict[str, Any]],
) -> dict[int, tuple[Decimal, list[str]]] | None:
    """Each waiting slot's final points and the marks they rest on; None
    while any waiting slot has none (or when none waits)."""
    if not waiting:
        return None
    double = bool(settings.get("double_marking", False))
    tolerance = Decimal(str(float(settings.get("marking_tolerance_percent", 10))))
    out: dict[int, tuple[Decimal, list[str]]] = {}
    for slot, worth in waiting.items():
        mine = [_points(m, bodies[slot], worth) for m in marks if int(m["slot"]) == slot]
        settled = _settle(mine, double, worth * tolerance / HUNDRED)
        if settled is None:
            return None
        out[slot] = settled
    return out


def _points(mark: dict[str, Any], body: dict[str, Any], worth: Decimal) -> dict[str, Any]:
    """The mark with its points: from the rubric levels it names for an
    essay, its total otherwise (a moderation, a short answer)."""
    rows = mark.get("marks") or []
    if body["type"] == "essay" and rows:
        points = essay_points(body, rows, worth)
    else:
        points = Decimal(str(mark["total"])).quantize(CENT)
    return {**mark, "points": points}


def _settle(
    marks: list[dict[str, Any]], double: bool, tolerance: Decimal
) -> tuple[Decimal, list[str]] | None:
    regrades = [m for m in marks if m["kind"] == "regrade"]
    if regrades:
        last = max(regrades, key=lambda m: (m["created_at"], m["id"]))
        return last["points"], [last["id"]]
    ordered = sorted(marks, key=lambda m: (m["created_at"], m["id"]))
    moderation = next((m for m in ordered if m["kind"] == "moderation"), None)
    if moderation is not None:
        return moderation["points"], [moderation["id"]]
    given = {m["kind"]: m for m in ordered if m["kind"] in ("first", "second")}
    first, second = given.get("first"), given.get("second")
    if first is None:
        return None
    if not double:
        return first["points"], [first["id"]]
    if second is None or abs(first["points"] - second["points"]) > tolerance:
        return None
    mean = ((first["points"] + second["points"]) / 2).quantize(CENT, rounding=ROUND_HALF_UP)
    return mean, [first["id"], second["id"]]
