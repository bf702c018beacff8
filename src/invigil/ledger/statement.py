"""What a tenant reads of its ledger: each transfer with what it was for, a
page of the history, and a statement of a period that proves it adds up.

Nothing here writes. What a transfer was for is read from the transfer
itself (its kind, legs and meta), never from the domain that caused it, so
the ledger keeps importing no domain and every writer that follows the
conventions of ADR 0048 is shown correctly: a top-up (kind ``topup``), a
refund (kind ``reversal``), a charge for an invitation or an attempt start
(meta ``invitation`` / ``attempt``), for an AI call (meta ``ai_call`` or
the ``ai_usage`` account) or for a day of stored evidence (meta
``storage_day``).

A statement (ADR 0054) covers whole UTC days. Its opening and closing
balances of ``credits_available`` are each summed from the entries on their
own, and the closing balance is checked a second way, from the account's
stored balance less everything after the period: ``opening + movements =
closing`` is then a check that can fail (``balanced``), not a sum printed
twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid, NotFound
from invigil.i18n import N_
from invigil.ledger import prices
from invigil.ledger.service import AI_USAGE, CREDITS, KIND, Leg
from invigil.security import safe_csv

# What a transfer was for: key -> (the API's words, the page's words).
PURPOSES: Mapping[str, tuple[str, str]] = {
    "topup": ("top-up", N_("Top-up")),
    "invitation": ("invitation", N_("Invitation")),
    "attempt": ("attempt start", N_("Attempt start")),
    "ai_call": ("AI call", N_("AI call")),
    "storage": ("evidence storage", N_("Evidence storage")),
    "refund": ("refund", N_("Refund")),
    "other": ("other", N_("Other")),
}
# The kinds a person may filter by (any lowercase identifier is accepted by the API).
KINDS: Mapping[str, str] = {
    "charge": N_("Charge"),
    "reversal": N_("Refund (reversal)"),
    "topup": N_("Top-up"),
}
MAX_DAYS = 366  # the longest statement
MAX_LINES = 100_000  # the most transfers one statement lists


def purpose(kind: str, legs: Sequence[Leg], meta: Mapping[str, str]) -> str:
    """What a transfer was for (a key of :data:`PURPOSES`), from the transfer alone."""
    if kind == "topup":
        return "topup"
    if kind == "reversal":
        return "refund"
    if "ai_call" in meta or any(leg.account == AI_USAGE for leg in legs):
        return "ai_call"
    if "storage_day" in meta:
        return "storage"
    if "invitation" in meta:
        return "invitation"
    if "attempt" in meta:
        return "attempt"
    return "other"


@dataclass(frozen=True)
class Line:
    """One transfer as the history shows it."""

    id: uuid.UUID
    kind: str
    reason: str
    created_at: datetime
    meta: dict[str, str]
    legs: tuple[Leg, ...]
    reverses_id: uuid.UUID | None
    purpose: str
    # What it was about, for a link: ("invitation" | "attempt", id), a refund's
    # taken from the transfer it reverses.
    subject: tuple[str, str] | None = None

    @property
    def credits(self) -> int:
        """What it did to credits_available (0: it did not touch it)."""
        return next((leg.amount for leg in self.legs if leg.account == CREDITS), 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "kind": self.kind,
            "for": PURPOSES[self.purpose][0],
            "legs": [{"account": leg.account, "amount": leg.amount} for leg in self.legs],
            "credits": self.credits,
            "meta": self.meta,
            "reason": self.reason,
            "reverses_id": str(self.reverses_id) if self.reverses_id else None,
            "subject": {"type": self.subject[0], "id": self.subject[1]} if self.subject else None,
            "created_at": self.created_at.isoformat(),
        }


_LINES = """
    SELECT t.id, t.kind, t.reason, t.created_at, t.meta, t.reverses_id,
           array_agg(a.code ORDER BY a.code), array_agg(e.amount ORDER BY a.code),
           o.meta
    FROM ledger_transfers t
    JOIN ledger_entries e ON e.tenant_id = t.tenant_id AND e.transfer_id = t.id
    JOIN ledger_accounts a ON a.tenant_id = e.tenant_id AND a.id = e.account_id
    LEFT JOIN ledger_transfers o ON o.tenant_id = t.tenant_id AND o.id = t.reverses_id
    WHERE {where}
    GROUP BY t.tenant_id, t.id, o.tenant_id, o.id
    ORDER BY t.created_at {order}, t.id {order}
"""


def _subject(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    for name in ("attempt", "invitation"):
        if isinstance(meta.get(name), str):
            return name, meta[name]
    return None


def _line(row: Sequence[Any]) -> Line:
    tid, kind, reason, at, meta, reverses, codes, amounts, original = row
    legs = tuple(Leg(c, int(n)) for c, n in zip(codes, amounts, strict=True))
    meta = dict(meta)
    return Line(
        tid, kind, reason, at, meta, legs, reverses, purpose(kind, legs, meta),
        _subject(original or meta),
    )  # fmt: skip


def lines(
    uow: UnitOfWork, where: str = "true", params: Mapping[str, Any] | None = None, *,
    newest_first: bool = True, limit: int | None = None,
) -> list[Line]:  # fmt: skip
    """Transfers matching ``where`` (SQL over ``t``), with legs and purpose."""
    sql = _LINES.format(where=where, order="DESC" if newest_first else "ASC")
    if limit is not None:
        sql += " LIMIT %(limit)s"
    rows = uow.driver().cursor().execute(sql, {**(params or {}), "limit": limit}).fetchall()
    return [_line(r) for r in rows]


def line(uow: UnitOfWork, transfer_id: uuid.UUID) -> Line:
    found = lines(uow, "t.id = %(id)s", {"id": transfer_id})
    if not found:
        raise NotFound(f"no transfer {transfer_id}")
    return found[0]


def by_ids(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Line]:
    if not ids:
        return {}
    return {x.id: x for x in lines(uow, "t.id = ANY(%(ids)s)", {"ids": list(ids)})}


# -- periods ------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time.min, UTC)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def day(value: str | date | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date written YYYY-MM-DD", field=name) from None


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1))


def period(
    first: str | date | None, last: str | date | None, *, today: date, default_month: bool = True
) -> Period | None:
    """The period asked for: ``from`` and ``to`` (YYYY-MM-DD, inclusive);
    one alone runs to today or from the first day; neither is the current
    month (or None when ``default_month`` is false)."""
    a, b = day(first, "from"), day(last, "to")
    if a is None and b is None:
        return month_of(today) if default_month else None
    if a is None:
        assert b is not None
        a = b.replace(day=1) if default_month else date(2000, 1, 1)
    if b is None:
        b = max(a, today)
    if b < a:
        raise Invalid("to must be the same day as from or later", field="to")
    if default_month and (b - a).days + 1 > MAX_DAYS:
        raise Invalid(f"a statement covers at most {MAX_DAYS} days", field="to")
    return Period(a, b)


def month(value: str | None, *, today: date) -> Period:
    """A month written YYYY-MM (the statement page's picker); empty: this month."""
    if not value:
        return month_of(today)
    try:
        if len(value) != 7:
            raise ValueError(value)
        return month_of(date.fromisoformat(value + "-01"))
    except ValueError:
        raise Invalid(N_("write a month as YYYY-MM (2026-11)"), field="month") from None


# -- history ------------------------------------------------------------------


def filters(kind: str | None, within: Period | None) -> tuple[str, dict[str, Any]]:
    where: list[str] = ["true"]
    params: dict[str, Any] = {}
    if kind:
        if not KIND.match(kind):
            raise Invalid("kind must be a lowercase identifier", field="kind")
        where.append("t.kind = %(kind)s")
        params["kind"] = kind
    if within is not None:
        where.append("t.created_at >= %(start)s AND t.created_at < %(end)s")
        params |= {"start": within.start, "end": within.end}
    return " AND ".join(where), params


def history(
    uow: UnitOfWork, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None,
    kind: str | None = None, within: Period | None = None,
) -> tuple[list[Line], bool]:  # fmt: skip
    """A page of transfers, newest first, after the keyset ``after``; and
    whether more follow."""
    where, params = filters(kind, within)
    if after is not None:
        where += " AND (t.created_at, t.id) < (%(at)s, %(after)s)"
        params |= {"at": after[0], "after": after[1]}
    # The page's ids first (the (tenant_id, created_at, id) index, no
    # aggregation), then their legs: a long history costs one page.
    ids = [r[0] for r in uow.driver().cursor().execute(
        f"SELECT t.id FROM ledger_transfers t WHERE {where} "
        "ORDER BY t.created_at DESC, t.id DESC LIMIT %(n)s", {**params, "n": limit + 1},
    ).fetchall()]  # fmt: skip
    found = by_ids(uow, ids[:limit])
    return [found[i] for i in ids[:limit]], len(ids) > limit


# -- statement ----------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    purpose: str
    count: int
    credits: int

    def as_dict(self) -> dict[str, Any]:
        return {"for": PURPOSES[self.purpose][0], "count": self.count, "credits": self.credits}


@dataclass(frozen=True)
class Statement:
    period: Period
    opening: int
    closing: int
    closing_from_balance: int
    groups: list[Group]
    lines: list[Line] = field(default_factory=list)
    price_list_version: int | None = None

    @property
    def movements(self) -> int:
        return sum(g.credits for g in self.groups)

    @property
    def balanced(self) -> bool:
        """Opening plus movements equals closing, and closing equals the
        stored balance less what came after: the two ways agree."""
        return self.opening + self.movements == self.closing == self.closing_from_balance

    def running(self) -> Iterator[tuple[Line, int]]:
        """Each line with credits_available after it."""
        balance = self.opening
        for x in self.lines:
            balance += x.credits
            yield x, balance

    def as_dict(self, *, with_lines: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "account": CREDITS,
            "period": self.period.as_dict(),
            "opening_balance": self.opening,
            "movements": [g.as_dict() for g in self.groups],
            "movements_total": self.movements,
            "closing_balance": self.closing,
            "balanced": self.balanced,
            "price_list_version": self.price_list_version,
        }
        if with_lines:
            out["lines"] = [{**x.as_dict(), "balance_after": after} for x, after in self.running()]
        return out


_SUM = """
    SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
    JOIN ledger_accounts a ON a.tenant_id = e.tenant_id AND a.id = e.account_id
    JOIN ledger_transfers t ON t.tenant_id = e.tenant_id AND t.id = e.transfer_id
    WHERE a.code = %(code)s AND {where}
"""
ORDER = tuple(PURPOSES)


def statement(uow: UnitOfWork, within: Period) -> Statement:
    """credits_available over ``within``: opening, the movements grouped by
    what they were for, closing, and whether they add up (module docstring)."""
    cur = uow.driver().cursor()

    def summed(where: str, params: dict[str, Any]) -> int:
        row = cur.execute(_SUM.format(where=where), {"code": CREDITS, **params}).fetchone()
        return int(row[0]) if row else 0

    opening = summed("t.created_at < %(start)s", {"start": within.start})
    closing = summed("t.created_at < %(end)s", {"end": within.end})
    later = summed("t.created_at >= %(end)s", {"end": within.end})
    stored = cur.execute(
        "SELECT balance FROM ledger_accounts WHERE code = %(c)s", {"c": CREDITS}
    ).fetchone()
    where, params = filters(None, within)
    found = lines(uow, where, params, newest_first=False, limit=MAX_LINES + 1)
    if len(found) > MAX_LINES:
        raise Invalid(f"the period holds more than {MAX_LINES} transfers; ask for a shorter one",
                      field="from")  # fmt: skip
    moved = [x for x in found if x.credits != 0]
    totals: dict[str, list[int]] = {}
    for x in moved:
        count_credits = totals.setdefault(x.purpose, [0, 0])
        count_credits[0] += 1
        count_credits[1] += x.credits
    groups = [Group(p, *totals[p]) for p in ORDER if p in totals]
    in_force = prices.in_force(uow, min(within.end, datetime.now(UTC)))
    return Statement(
        within, opening, closing, (int(stored[0]) if stored else 0) - later, groups, moved,
        in_force.version if in_force else None,
    )  # fmt: skip


# -- CSV (docs/formats/billing-statement.md) ---------------------------------

CSV_HEADER = (
    "created_at", "transfer_id", "for", "kind", "subject_type", "subject_id",
    "credit", "debit", "balance_after",
)  # fmt: skip


def csv_text(s: Statement) -> str:
    """The statement's lines as CSV: an ``opening`` row, one row per
    transfer that moved credits_available (oldest first), a ``closing`` row.
    Amounts are whole credits, never negative: a credit column and a debit
    column (a leading minus would be a formula to a spreadsheet)."""

    def row(at: datetime, what: str, balance: int, x: Line | None = None) -> dict[str, object]:
        out: dict[str, object] = {"created_at": at.isoformat(), "for": what}
        out["balance_after"] = balance
        if x is not None:
            out |= {
                "transfer_id": x.id, "kind": x.kind,
                "subject_type": x.subject[0] if x.subject else "",
                "subject_id": x.subject[1] if x.subject else "",
                "credit": x.credits if x.credits > 0 else "",
                "debit": -x.credits if x.credits < 0 else "",
            }  # fmt: skip
        return out

    rows = [row(s.period.start, "opening", s.opening)]
    rows += [row(x.created_at, PURPOSES[x.purpose][0], after, x) for x, after in s.running()]
    rows.append(row(s.period.end, "closing", s.closing))
    return safe_csv.dump(CSV_HEADER, rows)


def csv_name(s: Statement, slug: str) -> str:
    return f"statement-{slug}-{s.period.first.isoformat()}-{s.period.last.isoformat()}.csv"
