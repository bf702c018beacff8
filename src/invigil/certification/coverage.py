"""Coverage: for every group and program it requires, where each member
stands at ``now`` (ADR 0045).

A member's certificate for a program is their latest one (by issue time;
a renewal supersedes what it renews). Its status, first match wins:

1. ``never``: no certificate of the program at all (issued by ``now``);
2. ``lapsed``: the latest is revoked or suspended. A suspended certificate
   does not cover: its holder may not rely on it while it is suspended (if
   it is reinstated, the member is covered again, by its dates);
3. ``covered``: issued and never expiring, or expiring more than 90 days
   after ``now``;
4. ``expiring_30`` / ``expiring_60`` / ``expiring_90``: issued and expiring
   within 30, 60 or 90 days (each member in the first bucket that holds);
5. ``grace``: it ended (state expired, or its expiry has passed even if the
   daily pass has not marked it yet) less than the program's grace period
   ago; the grace period is the program's current version's
   ``grace_days``; the end is the expiry, or the time it was marked
   expired when that came first;
6. ``lapsed``: it ended longer ago than that.

Computed in one SQL statement per view (the latest certificate per holder
and program by ``DISTINCT ON`` over an index in that order, joined to the
members of the groups that require the program, bucketed by ``CASE`` and
counted with ``FILTER``): no loop over people in Python.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text

from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid

STATUSES = ("covered", "expiring_90", "expiring_60", "expiring_30", "grace", "lapsed", "never")
# How they read on pages and in charts (English; pages translate).
LABELS = {
    "covered": "Covered",
    "expiring_90": "Expires in 90 days",
    "expiring_60": "Expires in 60 days",
    "expiring_30": "Expires in 30 days",
    "grace": "In grace",
    "lapsed": "Lapsed",
    "never": "Never certified",
}
MAX_PAGE = 200

# The requirements in view, the grace period of each program, each
# holder's latest certificate per program, and every member's status.
_CELLS = """
WITH req AS (
    SELECT r.group_id, r.program_id FROM cert_group_requirements r
     WHERE (CAST(:group_id AS uuid) IS NULL OR r.group_id = CAST(:group_id AS uuid))
       AND (CAST(:program_id AS uuid) IS NULL OR r.program_id = CAST(:program_id AS uuid))
),
grace AS (
    SELECT DISTINCT ON (v.program_id) v.program_id,
           COALESCE((v.definition->>'grace_days')::int, 0) AS days
      FROM cert_program_versions v
     WHERE v.program_id IN (SELECT program_id FROM req)
     ORDER BY v.program_id, v.version DESC
),
latest AS (
    SELECT DISTINCT ON (c.holder_id, c.program_id)
           c.holder_id, c.program_id, c.state, c.expires_at,
           CASE WHEN c.state = 'expired'
                THEN LEAST(COALESCE(c.expires_at, c.state_changed_at), c.state_changed_at)
                ELSE c.expires_at END AS ended_at
      FROM certificates c
     WHERE c.program_id IN (SELECT program_id FROM req) AND c.issued_at <= :now
     ORDER BY c.holder_id, c.program_id, c.issued_at DESC, c.id
),
cells AS (
    SELECT r.group_id, r.program_id, m.candidate_id, l.expires_at,
           CASE
             WHEN l.holder_id IS NULL THEN 'never'
             WHEN l.state IN ('revoked', 'suspended') THEN 'lapsed'
             WHEN l.state = 'issued' AND l.expires_at IS NULL THEN 'covered'
             WHEN l.state = 'issued' AND l.expires_at > :now THEN
               CASE WHEN l.expires_at > :now + interval '90 days' THEN 'covered'
                    WHEN l.expires_at > :now + interval '60 days' THEN 'expiring_90'
                    WHEN l.expires_at > :now + interval '30 days' THEN 'expiring_60'
                    ELSE 'expiring_30' END
             WHEN l.ended_at + make_interval(days => COALESCE(g.days, 0)) > :now THEN 'grace'
             ELSE 'lapsed'
           END AS status
      FROM req r
      JOIN cert_group_members m ON m.group_id = r.group_id
      LEFT JOIN latest l ON l.holder_id = m.candidate_id AND l.program_id = r.program_id
      LEFT JOIN grace g ON g.program_id = r.program_id
)
"""

_COUNTS = ", ".join(f"count(*) FILTER (WHERE s.status = '{s}') AS {s}" for s in STATUSES)

SUMMARY = text(
    _CELLS
    + f"""
SELECT s.group_id, grp.name AS group_name, grp.kind, s.program_id, p.name AS program_name,
       count(*) AS members, {_COUNTS}
  FROM cells s
  JOIN cert_groups grp ON grp.id = s.group_id
  JOIN cert_programs p ON p.id = s.program_id
 GROUP BY s.group_id, grp.name, grp.kind, s.program_id, p.name
HAVING CAST(:status AS text) IS NULL OR count(*) FILTER (WHERE s.status = :status) > 0
 ORDER BY grp.name, p.name, s.group_id, s.program_id
"""
)

# Groups that require something but have no members yet still show (zero rows).
EMPTY = text("""
SELECT grp.id, grp.name, grp.kind, p.id, p.name
  FROM cert_group_requirements r
  JOIN cert_groups grp ON grp.id = r.group_id
  JOIN cert_programs p ON p.id = r.program_id
 WHERE NOT EXISTS (SELECT 1 FROM cert_group_members m WHERE m.group_id = r.group_id)
   AND (CAST(:group_id AS uuid) IS NULL OR r.group_id = CAST(:group_id AS uuid))
   AND (CAST(:program_id AS uuid) IS NULL OR r.program_id = CAST(:program_id AS uuid))
""")

_PEOPLE = """
, person AS (
    SELECT d.candidate_id,
           jsonb_object_agg(d.program_id::text,
                            jsonb_build_object('status', d.status, 'expires_at', d.expires_at))
             AS cells
      FROM (SELECT DISTINCT candidate_id, program_id, status, expires_at FROM cells) d
     GROUP BY d.candidate_id
    HAVING CAST(:status AS text) IS NULL OR bool_or(d.status = :status)
)
SELECT c.id, c.name, c.email, c.external_ref, person.cells, count(*) OVER () AS total
  FROM person JOIN candidates c ON c.id = person.candidate_id
 ORDER BY c.name, c.email, c.id
"""

MATRIX = text(_CELLS + _PEOPLE + " LIMIT :limit OFFSET :offset")
MATRIX_ALL = text(_CELLS + _PEOPLE)

COLUMNS = text("""
SELECT DISTINCT p.id, p.name FROM cert_group_requirements r
  JOIN cert_programs p ON p.id = r.program_id
 WHERE (CAST(:group_id AS uuid) IS NULL OR r.group_id = CAST(:group_id AS uuid))
   AND (CAST(:program_id AS uuid) IS NULL OR r.program_id = CAST(:program_id AS uuid))
 ORDER BY p.name, p.id
""")


@dataclass(frozen=True)
class Filters:
    """What the views are narrowed to (each optional)."""

    group_id: uuid.UUID | None = None
    program_id: uuid.UUID | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise Invalid(f"status is one of {', '.join(STATUSES)}", field="status")

    def params(self, now: datetime) -> dict[str, Any]:
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone")
        return {
            "group_id": str(self.group_id) if self.group_id else None,
            "program_id": str(self.program_id) if self.program_id else None,
            "status": self.status,
            "now": now,
        }


@dataclass(frozen=True)
class Line:
    """One group x program: how many members stand where."""

    group_id: uuid.UUID
    group_name: str
    kind: str
    program_id: uuid.UUID
    program_name: str
    members: int
    counts: dict[str, int]

    @property
    def covered_percent(self) -> int:
        """Members covered or not yet expired (so still able to act), of all."""
        live = sum(self.counts[s] for s in ("covered", "expiring_90", "expiring_60",
                                            "expiring_30"))  # fmt: skip
        return round(live * 100 / self.members) if self.members else 0


@dataclass
class Summary:
    lines: list[Line]
    totals: dict[str, int] = field(default_factory=dict)
    by_program: list[tuple[uuid.UUID, str, dict[str, int]]] = field(default_factory=list)

    @property
    def members(self) -> int:
        return sum(self.totals.values())


def summary(uow: UnitOfWork, filters: Filters, *, now: datetime) -> Summary:
    """Every group x required program with its counts per status (one
    statement), their totals and the totals per program (for the charts).
    A requirement of a group without members shows with zeros (unless a
    status is filtered)."""
    params = filters.params(now)
    lines = [
        Line(r.group_id, r.group_name, r.kind, r.program_id, r.program_name, r.members,
             {s: getattr(r, s) for s in STATUSES})  # fmt: skip
        for r in uow.session.execute(SUMMARY, params)
    ]
    if filters.status is None:
        lines += [
            Line(g, gname, kind, p, pname, 0, dict.fromkeys(STATUSES, 0))
            for g, gname, kind, p, pname in uow.session.execute(EMPTY, params)
        ]
        lines.sort(key=lambda x: (x.group_name, x.program_name, str(x.group_id), str(x.program_id)))
    totals = dict.fromkeys(STATUSES, 0)
    programs: dict[uuid.UUID, tuple[str, dict[str, int]]] = {}
    for line in lines:
        per = programs.setdefault(line.program_id, (line.program_name, dict.fromkeys(STATUSES, 0)))
        for s in STATUSES:
            totals[s] += line.counts[s]
            per[1][s] += line.counts[s]
    by_program = sorted(((p, n, c) for p, (n, c) in programs.items()), key=lambda x: x[1])
    return Summary(lines, totals, by_program)


@dataclass(frozen=True)
class Person:
    candidate_id: uuid.UUID
    name: str
    email: str
    external_ref: str
    # program id (text) -> {"status": ..., "expires_at": ISO text or None}
    cells: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Matrix:
    programs: list[tuple[uuid.UUID, str]]
    people: list[Person]
    total: int
    offset: int
    limit: int


def columns(uow: UnitOfWork, filters: Filters) -> list[tuple[uuid.UUID, str]]:
    """The required programs in view (the matrix's columns), by name."""
    return [(i, n) for i, n in uow.session.execute(COLUMNS, filters.params(_ANY))]


def matrix(
    uow: UnitOfWork, filters: Filters, *, now: datetime, offset: int = 0, limit: int = 50
) -> Matrix:
    """One page of people (by name) x the required programs in view; a cell
    is absent where none of the person's groups in view requires the program."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit is 1 to {MAX_PAGE}", field="limit")
    if not 0 <= offset <= 10_000_000:
        raise Invalid("offset is 0 or more", field="offset")
    rows = uow.session.execute(MATRIX, filters.params(now) | {"limit": limit, "offset": offset})
    people, total = [], 0
    for r in rows:
        people.append(Person(r.id, r.name, r.email, r.external_ref, r.cells))
        total = r.total
    if not people and offset:
        # past the end: count once more from the start for the pager
        first = uow.session.execute(MATRIX, filters.params(now) | {"limit": 1, "offset": 0})
        total = next((r.total for r in first), 0)
    return Matrix(columns(uow, filters), people, total, offset, limit)


def everyone(uow: UnitOfWork, filters: Filters, *, now: datetime) -> list[Person]:
    """Every person in view (the matrix export), by name."""
    return [
        Person(r.id, r.name, r.email, r.external_ref, r.cells)
        for r in uow.session.execute(MATRIX_ALL, filters.params(now))
    ]


_ANY = datetime.fromisoformat("2000-01-01T00:00:00+00:00")  # COLUMNS ignores the time
