"""A shortlist's rules and how they rank a cohort: pure functions, no
database, so the same facts and the same rules give the same list, always.

A rule set version holds :class:`Rules` in canonical form (:func:`canonical`):
numbers as plain decimal strings, the allowed integrity outcomes in their
fixed order, nothing else. Its canonical JSON is hashed and frozen into
every run made with it (docs/adr/0037-shortlists.md).

:func:`evaluate` checks every candidate's facts against the rules in one
fixed order and stops at the first rule a candidate fails:

1. ``final``: the result is final (submitted, no answer waiting for a grader,
   no integrity review pending: outcome ``flagged`` or ``under_review``);
2. ``pass_required``; 3. ``min_percent``; 4. ``min_category_percent`` (by
   category name); 5. ``integrity_allowed``; 6. ``max_minutes``;
7. ``top_n``, applied to the ranked candidates who met every other rule.

The ranking is a total order: the overall percentage, highest first, then
each tie-break in the order the rules name them (a named category's
percentage highest first, shorter time, earlier submission; a missing value
last), then the attempt id, so no two candidates ever tie.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from invigil.errors import Invalid

INTEGRITY = ("clear", "flagged", "under_review", "cleared", "failed")
Integrity = Literal["clear", "flagged", "under_review", "cleared", "failed"]
ALL_OUTCOMES: tuple[Integrity, ...] = ("clear", "flagged", "under_review", "cleared", "failed")
ORDER = (
    "final",
    "pass_required",
    "min_percent",
    "min_category_percent",
    "integrity_allowed",
    "max_minutes",
    "top_n",
)
NOT_FINAL = ("not_submitted", "no_result", "awaiting_grading", "awaiting_review")
MAX_CATEGORIES = 20
MAX_TIE_BREAKS = 5
MAX_N = 100_000
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
TieBreak = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=110)]


class Rules(BaseModel):
    """A rule set version's rules (every rule optional: an empty rule set
    ranks every final result)."""

    model_config = ConfigDict(extra="forbid")

    min_percent: Percent | None = Field(None, description="minimum overall percentage")
    min_category_percent: dict[Category, Percent] = Field(
        default_factory=dict,
        max_length=MAX_CATEGORIES,
        description="minimum percentage per category, by category name",
    )
    pass_required: bool = Field(False, description="the result must be a pass")
    integrity_allowed: list[Integrity] = Field(
        default_factory=lambda: list(ALL_OUTCOMES),
        min_length=1,
        max_length=len(INTEGRITY),
        description="integrity outcomes allowed (see results/listing.py)",
    )
    max_minutes: int | None = Field(None, ge=1, le=100_000, description="maximum time taken")
    top_n: int | None = Field(None, ge=1, le=MAX_N, description="keep the best N only")
    tie_breaks: list[TieBreak] = Field(
        default_factory=list,
        max_length=MAX_TIE_BREAKS,
        description='"category:<name>", "shorter_time" or "earlier_submission", in order',
    )


def number(value: Decimal) -> str:
    """A decimal as plain digits, no exponent, no trailing zeros ("62.5", "60")."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in ("rules", *loc))


def parse(data: Any) -> dict[str, Any]:
    """``data`` checked and in canonical form; :class:`Invalid` naming the
    field (``rules.min_percent``) otherwise."""
    try:
        rules = Rules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(
            f"{_field(first['loc'])}: {first['msg']}", field=_field(first["loc"])
        ) from None
    seen: set[str] = set()
    for i, tie in enumerate(rules.tie_breaks):
        where = f"rules.tie_breaks.{i}"
        if tie not in ("shorter_time", "earlier_submission") and not (
            tie.startswith("category:") and tie.removeprefix("category:").strip()
        ):
            raise Invalid(
                f'{where}: write "category:<name>", "shorter_time" or "earlier_submission"',
                field=where,
            )
        if tie in seen:
            raise Invalid(f"{where}: {tie} is named twice", field=where)
        seen.add(tie)
    return canonical(rules)


def canonical(rules: Rules) -> dict[str, Any]:
    return {
        "min_percent": None if rules.min_percent is None else number(rules.min_percent),
        "min_category_percent": {
            k: number(v) for k, v in sorted(rules.min_category_percent.items())
        },
        "pass_required": rules.pass_required,
        "integrity_allowed": [i for i in INTEGRITY if i in rules.integrity_allowed],
        "max_minutes": rules.max_minutes,
        "top_n": rules.top_n,
        "tie_breaks": [
            t if not t.startswith("category:") else "category:" + t[9:].strip()
            for t in rules.tie_breaks
        ],
    }


@dataclass(frozen=True)
class Facts:
    """What the run reads of one attempt (the candidate's latest on an exam)."""

    attempt_id: uuid.UUID
    exam_id: uuid.UUID
    candidate_id: uuid.UUID
    not_final: str | None  # one of NOT_FINAL, or None: the result is final
    percent: Decimal | None
    passed: bool | None
    integrity: str
    seconds: int | None
    submitted_at: datetime | None
    categories: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    facts: Facts
    rank: int | None  # None: excluded
    met: list[dict[str, Any]]
    failed: dict[str, Any] | None


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else number(value)


def checks(rules: dict[str, Any], f: Facts) -> list[tuple[bool, dict[str, Any]]]:
    """Each active rule before ``top_n`` in :data:`ORDER`: (met, its reason)."""
    out: list[tuple[bool, dict[str, Any]]] = [
        (f.not_final is None, {"rule": "final", "actual": f.not_final or "final"})
    ]
    if rules["pass_required"]:
        out.append((f.passed is True, {"rule": "pass_required", "actual": f.passed}))
    if rules["min_percent"] is not None:
        need = Decimal(rules["min_percent"])
        ok = f.percent is not None and f.percent >= need
        out.append((ok, {"rule": "min_percent", "required": rules["min_percent"],
                         "actual": _pct(f.percent)}))  # fmt: skip
    for name, minimum in rules["min_category_percent"].items():
        got = f.categories.get(name)
        ok = got is not None and got >= Decimal(minimum)
        out.append((ok, {"rule": "min_category_percent", "category": name,
                         "required": minimum, "actual": _pct(got)}))  # fmt: skip
    if len(rules["integrity_allowed"]) < len(INTEGRITY):
        out.append((f.integrity in rules["integrity_allowed"], {"rule": "integrity_allowed",
                    "required": rules["integrity_allowed"], "actual": f.integrity}))  # fmt: skip
    if rules["max_minutes"] is not None:
        ok = f.seconds is not None and f.seconds <= rules["max_minutes"] * 60
        out.append((ok, {"rule": "max_minutes", "required": rules["max_minutes"],
                         "actual_seconds": f.seconds}))  # fmt: skip
    return out


def _last(value: Any) -> tuple[int, Any]:
    """Missing values sort after every present one."""
    return (1, 0) if value is None else (0, value)


def sort_key(rules: dict[str, Any], f: Facts) -> tuple[Any, ...]:
    """The ranking order (module docstring): smaller comes first."""
    key: list[Any] = [_last(None if f.percent is None else -f.percent)]
    for tie in rules["tie_breaks"]:
        if tie.startswith("category:"):
            got = f.categories.get(tie.removeprefix("category:"))
            key.append(_last(None if got is None else -got))
        elif tie == "shorter_time":
            key.append(_last(f.seconds))
        else:
            key.append(_last(f.submitted_at))
    key.append(str(f.attempt_id))
    return tuple(key)


def evaluate(rules: dict[str, Any], cohort: Sequence[Facts]) -> list[Outcome]:
    """Every candidate, ranked ones first (rank 1, 2, ...), then the
    excluded, each part in ranking order."""
    ordered = sorted(cohort, key=lambda f: sort_key(rules, f))
    ranked: list[Outcome] = []
    excluded: list[Outcome] = []
    qualified = 0
    for f in ordered:
        found = checks(rules, f)
        failed = next((reason for ok, reason in found if not ok), None)
        if failed is not None:
            excluded.append(Outcome(f, None, [], failed))
            continue
        met = [reason for _, reason in found]
        qualified += 1
        place = qualified
        top = rules["top_n"]
        if top is not None and place > top:
            excluded.append(Outcome(f, None, met, {"rule": "top_n", "required": top,
                                                   "actual": place}))  # fmt: skip
            continue
        if top is not None:
            met = [*met, {"rule": "top_n", "required": top, "actual": place}]
        ranked.append(Outcome(f, place, met, None))
    return ranked + excluded
