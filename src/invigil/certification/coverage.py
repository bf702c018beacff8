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
# The statement computes each status as its index in STATUSES (a small
# integer hashes and compares faster than text over 200,000 cells).
_CODE = {s: i for i, s in enumerate(STATUSES)}

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
     WHERE c.issued_at <= :now
       AND (CAST(:program_id AS uuid) IS NULL OR c.program_id = CAST(:program_id AS uuid))
       AND (CAST(:ids AS uuid[]) IS NULL OR c.holder_id = ANY(CAST(:ids AS uuid[])))
       AND (CAST(:group_id AS uuid) IS NULL
            OR c.holder_id IN (SELECT m.candidate_id FROM cert_group_members m
                                WHERE m.group_id = CAST(:group_id AS uuid)))
     ORDER BY c.holder_id, c.program_id, c.issued_at DESC, c.id
),
held AS (
    SELECT l.holder_id, l.program_id, l.expires_at,
           CASE
             WHEN l.state IN ('revoked', 'suspended') THEN 5
             WHEN l.state = 'issued' AND l.expires_at IS NULL THEN 0
             WHEN l.state = 'issued' AND l.expires_at > :now THEN
               CASE WHEN l.expires_at > :now + interval '90 days' THEN 0
                    WHEN l.expires_at > :now + interval '60 days' THEN 1
                    WHEN l.expires_at > :now + interval '30 days' THEN 2
                    ELSE 3 END
             WHEN l.ended_at + make_interval(days => COALESCE(g.days, 0)) > :now THEN 4
             ELSE 5
           END AS status
      FROM latest l LEFT JOIN grace g ON g.program_id = l.program_id
),
cells AS (
    SELECT r.group_id, r.program_id, m.candidate_id, h.expires_at,
           COALESCE(h.status, 6) AS status
      FROM req r
      JOIN cert_group_members m ON m.group_id = r.group_id
       AND (CAST(:ids AS uuid[]) IS NULL OR m.candidate_id = ANY(CAST(:ids AS uuid[])))
      LEFT JOIN held h ON h.holder_id = m.candidate_id AND h.program_id = r.program_id
)
"""

# Counted per group x program in one hash aggregate (a count per status
# with FILTER: no sort of the 200,000 cells, no arrays), every requirement
# in view kept (a group without members counts zeros), the names joined to
# those few thousand rows and the lines ordered by them.
SUMMARY = text(
    _CELLS
    + """
, counted AS (
    SELECT group_id, program_id,
           count(*) FILTER (WHERE status = 0) AS s0,
           count(*) FILTER (WHERE status = 1) AS s1,
           count(*) FILTER (WHERE status = 2) AS s2,
           count(*) FILTER (WHERE status = 3) AS s3,
           count(*) FILTER (WHERE status = 4) AS s4,
           count(*) FILTER (WHERE status = 5) AS s5,
           count(*) FILTER (WHERE status = 6) AS s6
      FROM cells GROUP BY group_id, program_id
)
SELECT r.group_id, grp.name AS group_name, grp.kind, r.program_id, p.name AS program_name,
       COALESCE(n.s0, 0) AS s0,
       COALESCE(n.s1, 0) AS s1,
       COALESCE(n.s2, 0) AS s2,
       COALESCE(n.s3, 0) AS s3,
       COALESCE(n.s4, 0) AS s4,
       COALESCE(n.s5, 0) AS s5,
       COALESCE(n.s6, 0) AS s6
  FROM req r
  JOIN cert_groups grp ON grp.id = r.group_id
  JOIN cert_programs p ON p.id = r.program_id
  LEFT JOIN counted n ON n.group_id = r.group_id AND n.program_id = r.program_id
 ORDER BY grp.name, p.name, r.group_id, r.program_id
"""
)

# The matrix in two steps: the page of people (by name), then the cells of
# those people only. Without a status filter the page needs no certificate
# at all (the members of the groups in view); with one, the people having
# a cell in that status.
_PAGE = """
SELECT c.id, c.name, c.email, c.external_ref, count(*) OVER () AS total
  FROM people JOIN candidates c ON c.id = people.candidate_id
 ORDER BY c.name, c.email, c.id
"""
_REQ = _CELLS[: _CELLS.index("grace AS")].rstrip().rstrip(",")
PAGE_PLAIN = text(
    _REQ
    + """
, people AS (SELECT DISTINCT m.candidate_id FROM req r
               JOIN cert_group_members m ON m.group_id = r.group_id)
"""
    + _PAGE
    + " LIMIT :limit OFFSET :offset"
)
PAGE_STATUS = text(
    _CELLS
    + ", people AS (SELECT DISTINCT candidate_id FROM cells WHERE status = :status)"
    + _PAGE
    + " LIMIT :limit OFFSET :offset"
)
ALL_PLAIN = text(
    _REQ
    + """
, people AS (SELECT DISTINCT m.candidate_id FROM req r
               JOIN cert_group_members m ON m.group_id = r.group_id)
"""
    + _PAGE
)
ALL_STATUS = text(
    _CELLS + ", people AS (SELECT DISTINCT candidate_id FROM cells WHERE status = :status)" + _PAGE
)
CELLS = text(_CELLS + "SELECT DISTINCT candidate_id, program_id, status, expires_at FROM cells")

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
            "status": _CODE[self.status] if self.status is not None else None,
            "now": now,
            "ids": None,
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
    statement, ordered by group and program name), their totals and the
    totals per program (for the charts). A requirement of a group without
    members shows with zeros (unless a status is filtered)."""
    params = filters.params(now)
    _memory(uow)
    lines = []
    for r in uow.session.execute(SUMMARY, params).all():
        counts = dict(zip(STATUSES, r[5:12], strict=True))
        if filters.status is not None and counts[filters.status] == 0:
            continue
        lines.append(Line(r[0], r[1], r[2], r[3], r[4], sum(counts.values()), counts))
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


def _memory(uow: UnitOfWork) -> None:
    """Room for the statement's hash tables and sort (the latest certificate
    per holder and program) in memory rather than on disk, for this
    transaction only."""
    uow.session.execute(text("SELECT set_config('work_mem', '64MB', true)"))


def columns(uow: UnitOfWork, filters: Filters) -> list[tuple[uuid.UUID, str]]:
    """The required programs in view (the matrix's columns), by name."""
    return [(i, n) for i, n in uow.session.execute(COLUMNS, filters.params(_ANY))]


def _cells(
    uow: UnitOfWork, filters: Filters, now: datetime, ids: list[uuid.UUID] | None
) -> dict[uuid.UUID, dict[str, dict[str, Any]]]:
    found: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
    params = filters.params(now) | {"ids": [str(i) for i in ids] if ids is not None else None}
    for who, program, status, expires in uow.session.execute(CELLS, params):
        found.setdefault(who, {})[str(program)] = {"status": STATUSES[status],
                                                   "expires_at": expires}  # fmt: skip
    return found


def matrix(
    uow: UnitOfWork, filters: Filters, *, now: datetime, offset: int = 0, limit: int = 50
) -> Matrix:
    """One page of people (by name) x the required programs in view; a cell
    is absent where none of the person's groups in view requires the program."""
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit is 1 to {MAX_PAGE}", field="limit")
    if not 0 <= offset <= 10_000_000:
        raise Invalid("offset is 0 or more", field="offset")
    _memory(uow)
    page = PAGE_PLAIN if filters.status is None else PAGE_STATUS
    params = filters.params(now) | {"ids": None}
    rows = uow.session.execute(page, params | {"limit": limit, "offset": offset}).all()
    total = rows[0].total if rows else 0
    if not rows and offset:
        # past the end: count once more from the start for the pager
        first = uow.session.execute(page, params | {"limit": 1, "offset": 0}).first()
        total = first.total if first is not None else 0
    cells = _cells(uow, filters, now, [r.id for r in rows]) if rows else {}
    people = [Person(r.id, r.name, r.email, r.external_ref, cells.get(r.id, {})) for r in rows]
    return Matrix(columns(uow, filters), people, total, offset, limit)


def everyone(uow: UnitOfWork, filters: Filters, *, now: datetime) -> list[Person]:
    """Every person in view (the matrix export), by name."""
    _memory(uow)
    page = ALL_PLAIN if filters.status is None else ALL_STATUS
    rows = uow.session.execute(page, filters.params(now) | {"ids": None}).all()
    cells = _cells(uow, filters, now, None)
    return [Person(r.id, r.name, r.email, r.external_ref, cells.get(r.id, {})) for r in rows]


_ANY = datetime.fromisoformat("2000-01-01T00:00:00+00:00")  # COLUMNS ignores the time
