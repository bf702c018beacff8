"""Evidence storage, measured each UTC day and charged by the GB-month (ADR 0051).

Once a day is over, the evidence a tenant kept when it ended is measured
(the stored bytes of its evidence objects whose data key was not destroyed
by then: snapshots, ID photos, screen recordings) and written once, as a
``ledger_storage_days`` row anchored in its audit entry. The row is exact
whenever it is taken, because evidence objects are written once with their
time and a key's destruction keeps its time: a missed night is measured
later as it was.

The month's cost is ``sum(rate_d x bytes_d) / (10^9 x days in the month)``
over its days, each day at the rate of the price list version in force when
it began. Each day's row holds the whole credits owed for the month so far
(floor) and since the first measured day; the day's charge is what is owed
since the first day less what was ever charged. So rounding never drifts
(the charges of a month sum to the floor of its cost), no day is billed
twice (one row per day, the charge keyed on the row), and what the credit
could not pay is not lost: a day takes what ``credits_available`` holds,
never more (it may not go negative), and the next day's charge asks for the
rest again. Nothing is ever deleted for unpaid storage.

Days are measured in order, each in its own transaction under a per-tenant
lock, from the tenant's first day; a run does at most ``MAX_DAYS`` per
tenant, so a long gap is caught up over several runs.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from invigil import audit
from invigil.audit.records import anchor, document_sha256
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Invalid
from invigil.ledger import prices, service
from invigil.ledger.models import StorageDay
from invigil.logs import get_logger

log = get_logger(__name__)

GB = 10**9  # bytes in a GB, as prices say it (decimal, as storage is sold)
MAX_DAYS = 62  # days measured per tenant and run: two months of catching up
ACTION = "ledger.storage_measured"
SUBJECT = "ledger_storage_day"
EVENT = "storage_day"  # the charge's event: charge:storage_day:<row id>
ACTOR = Actor.system("ledger.storage")

_MEASURE = """
    SELECT count(*), coalesce(sum(o.stored_size), 0)
    FROM evidence_objects o JOIN evidence_data_keys k
      ON k.tenant_id = o.tenant_id AND k.id = o.data_key_id
    WHERE o.created_at < %(end)s AND (k.destroyed_at IS NULL OR k.destroyed_at >= %(end)s)
"""


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def month_owed(days: Iterable[tuple[int, int]], month_days: int) -> int:
    """Whole credits owed for a month's ``(rate, bytes)`` days so far:
    ``floor(sum(rate x bytes) / (GB x month_days))``, in exact integers."""
    return sum(rate * size for rate, size in days) // (GB * month_days)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def storage_day_document(row: StorageDay | Mapping[str, Any]) -> dict[str, Any]:
    """A day as its anchored document (verify rebuilds it from the row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    transfer = get("transfer_id")
    return {
        "id": str(get("id")),
        "day": get("day").isoformat(),
        "bytes": int(get("bytes")),
        "objects": int(get("objects")),
        "price_list": get("price_list"),
        "rate": get("rate"),
        "owed_month": int(get("owed_month")),
        "owed_total": int(get("owed_total")),
        "charged": int(get("charged")),
        "transfer_id": str(transfer) if transfer else None,
    }


@dataclass(frozen=True)
class Measured:
    day: date
    bytes: int
    objects: int
    price_list: int | None
    rate: int | None
    owed_month: int
    owed_total: int
    charged: int
    transfer_id: uuid.UUID | None
    again: bool = False  # measured before: this is the row already written

    @classmethod
    def of(cls, row: StorageDay, again: bool = False) -> Measured:
        return cls(row.day, row.bytes, row.objects, row.price_list, row.rate, row.owed_month,
                   row.owed_total, row.charged, row.transfer_id, again)  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "bytes": self.bytes,
            "objects": self.objects,
            "price_list": self.price_list,
            "rate": self.rate,
            "owed_month": self.owed_month,
            "owed_total": self.owed_total,
            "charged": self.charged,
            "transfer_id": str(self.transfer_id) if self.transfer_id else None,
            "already_measured": self.again,
        }


def measure(uow: UnitOfWork, day: date) -> tuple[int, int]:
    """(objects, stored bytes) of evidence the tenant kept when ``day`` ended."""
    row = uow.driver().cursor().execute(_MEASURE, {"end": start_of(day + timedelta(days=1))})
    found = row.fetchone()
    return (int(found[0]), int(found[1])) if found else (0, 0)


def first_day(uow: UnitOfWork) -> date:
    """The first day measured: the tenant's own first day (UTC)."""
    row = uow.driver().cursor().execute("SELECT created_at FROM tenants WHERE id = %(t)s",
                                        {"t": uow.tenant}).fetchone()  # fmt: skip
    assert row is not None
    created: datetime = row[0]
    return created.astimezone(UTC).date()


def last(uow: UnitOfWork) -> StorageDay | None:
    return uow.scalar(select(StorageDay).order_by(StorageDay.day.desc()).limit(1))


def next_day(uow: UnitOfWork) -> date:
    """The day to measure next: the one after the last measured, or the first."""
    latest = last(uow)
    return latest.day + timedelta(days=1) if latest is not None else first_day(uow)


def _lock(uow: UnitOfWork) -> None:
    uow.driver().cursor().execute(
        "SELECT pg_advisory_xact_lock(hashtext('ledger_storage_days:' || %(t)s))",
        {"t": str(uow.tenant)},
    )


def _owed(uow: UnitOfWork, day: date, rate: int, size: int) -> tuple[int, int, int]:
    """What ``day`` brings the month to (the floor so far), the running
    total owed since the first day, and what was charged before it."""
    month = uow.session.execute(
        select(StorageDay.rate, StorageDay.bytes).where(
            StorageDay.day >= day.replace(day=1), StorageDay.day < day
        )
    ).all()
    owed_month = month_owed([(r or 0, b) for r, b in month] + [(rate, size)], days_in_month(day))
    previous = last(uow)
    if previous is None:
        return owed_month, owed_month, 0
    same_month = previous.day.replace(day=1) == day.replace(day=1)
    carried = previous.owed_total - (previous.owed_month if same_month else 0)
    found = (
        uow.driver()
        .cursor()
        .execute("SELECT coalesce(sum(charged), 0) FROM ledger_storage_days")
        .fetchone()
    )
    return owed_month, carried + owed_month, int(found[0]) if found else 0


def _take(
    uow: UnitOfWork, due: int, row_id: uuid.UUID, day: date, now: datetime
) -> tuple[int, uuid.UUID | None]:
    """Charge what is due, or as much of it as ``credits_available`` holds
    (it never goes negative: the rest stays owed); (credits, transfer)."""
    if due <= 0:
        return 0, None
    held = service.lock_balances(uow, [service.CREDITS, service.CONSUMED])
    amount = min(due, held.get(service.CREDITS, 0))
    if amount <= 0:
        return 0, None
    done = service.charge(
        uow, amount, (EVENT, row_id), now=now, reason="evidence storage",
        meta={"day": day.isoformat()},
    )  # fmt: skip
    return amount, done.id


def record_day(uow: UnitOfWork, day: date, *, now: datetime) -> Measured:
    """Measure ``day`` (over by ``now``), write its row and charge what it
    brings due, in the caller's transaction; a day measured before is
    returned as it was (``again``). Days go in order: the next one only."""
    if day >= now.astimezone(UTC).date():
        raise Invalid(f"{day.isoformat()} is not over yet; a day is measured once it is",
                      field="day")  # fmt: skip
    _lock(uow)  # one measurer per tenant; before any balance row (the lock order)
    done = uow.scalar(select(StorageDay).where(StorageDay.day == day))
    if done is not None:
        return Measured.of(done, again=True)
    expected = next_day(uow)
    if day != expected:
        raise Invalid(f"days are measured in order; the next one to measure is "
                      f"{expected.isoformat()}", field="day")  # fmt: skip
    objects, size = measure(uow, day)
    found = prices.in_force(uow, start_of(day))
    rate = found.prices.evidence_gb_month if found is not None else None
    owed_month, owed_total, charged_before = _owed(uow, day, rate or 0, size)
    row_id = uuid.uuid4()
    charged, transfer_id = _take(uow, owed_total - charged_before, row_id, day, now)
    row = StorageDay(
        id=row_id, tenant_id=uow.tenant, day=day, bytes=size, objects=objects,
        price_list=found.version if found is not None else None, rate=rate,
        owed_month=owed_month, owed_total=owed_total, charged=charged,
        transfer_id=transfer_id, sha256="",
    )  # fmt: skip
    row.sha256 = document_sha256(storage_day_document(row))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        ACTION,
        (SUBJECT, row.id),
        {
            "day": day.isoformat(),
            "bytes": size,
            "objects": objects,
            "price_list": row.price_list,
            "owed_total": owed_total,
            "charged": charged,
            "unpaid": owed_total - charged_before - charged,
            "anchor": anchor(SUBJECT, row.sha256),
        },
    )
    return Measured.of(row)


def run_tenant(
    db: Database, tenant_id: uuid.UUID, *, now: datetime, through: date | None = None,
    limit: int = MAX_DAYS, actor: Actor = ACTOR,
) -> list[Measured]:  # fmt: skip
    """Measure the tenant's days due by ``now`` (through ``through`` at
    most), oldest first, each in its own transaction, at most ``limit``."""
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    end = min(through, yesterday) if through is not None else yesterday
    out: list[Measured] = []
    with db.unit_of_work(tenant_id, actor) as uow:
        day = next_day(uow)
        if through is not None and through < day:  # already measured: say what it was
            done = uow.scalar(select(StorageDay).where(StorageDay.day == through))
            return [Measured.of(done, again=True)] if done is not None else []
    while day <= end and len(out) < limit:
        with db.unit_of_work(tenant_id, actor) as uow:
            out.append(record_day(uow, day, now=now))
        day += timedelta(days=1)
    return out


def run_all(db: Database, *, now: datetime, limit: int = MAX_DAYS) -> dict[str, int]:
    """Every tenant in turn; one tenant's failure is logged and does not
    stop the others. How many days were measured and credits charged."""
    days = charged = failed = 0
    for tenant_id in platform.tenant_ids(db):
        try:
            done = run_tenant(db, tenant_id, now=now, limit=limit)
        except Exception:
            failed += 1
            log.exception("ledger.storage_failed", tenant=str(tenant_id))
            continue
        days += len(done)
        charged += sum(m.charged for m in done)
    return {"days": days, "charged": charged, "failed": failed}


__all__ = ["GB", "Measured", "month_owed", "record_day", "run_all", "run_tenant"]
