"""What billable events cost a tenant: its price list, versioned.

A price list (docs/formats/price-list.md) says, in whole credits, what an
invitation and a started attempt cost at each proctoring level, what a
GB-month of stored evidence costs, and what 1,000 AI tokens cost by model.
Each change is a new version, written once and anchored in the audit log,
in force from its ``effective_from`` (never earlier than when it is
written: a price is never changed behind a charge already made).

A tenant without a price list is not metered: nothing is charged and
nothing is refused for want of credit. Every charge names the version and
the level it was priced by, so ``invigil ledger verify`` recomputes it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from invigil import audit
from invigil.audit.records import anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.ledger import service
from invigil.ledger.models import PriceList

# Proctoring levels, from what an exam's policy captures: nothing but
# browser signals; camera, microphone or an ID photo; the screen recorded.
LEVELS = ("unproctored", "webcam", "screen")
# The events priced per unit, and the charge's meta key naming the event.
ITEMS = ("invitation", "attempt")
MAX_PRICE = 1_000_000
ACTION = "ledger.price_list_set"
SUBJECT = "ledger_price_list"
# A new version may not take effect before it is written; this much clock
# difference between the caller and the server is forgiven.
SKEW = timedelta(minutes=5)

Credits = Annotated[int, Field(ge=0, le=MAX_PRICE, strict=True)]
ModelName = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._:/-]{0,99})$")]


class ByLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unproctored: Credits
    webcam: Credits
    screen: Credits


class PriceListDocument(BaseModel):
    """A price list as written: every field required, nothing else allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invitation: ByLevel = Field(description="credits per invitation, by proctoring level")
    attempt: ByLevel = Field(description="credits per started attempt, by proctoring level")
    evidence_gb_month: Credits = Field(description="credits per GB of evidence kept a month")
    ai_per_1k_tokens: dict[ModelName, Credits] = Field(
        description='credits per 1,000 AI tokens, by model; "*" for any other model',
        min_length=1,
        max_length=50,
    )

    def per_unit(self, item: str, level: str) -> int:
        if item not in ITEMS:
            raise Invalid(f"{item!r} is not a priced event", field="item")
        if level not in LEVELS:
            raise Invalid(f"{level!r} is not a proctoring level", field="level")
        return int(getattr(getattr(self, item), level))

    def ai_rate(self, model: str) -> int | None:
        """Credits per 1,000 tokens of ``model``, or None when the list does not price it."""
        if model in self.ai_per_1k_tokens:
            return self.ai_per_1k_tokens[model]
        return self.ai_per_1k_tokens.get("*")


def ai_cost(rate: int, tokens: int) -> int:
    """Whole credits for ``tokens`` at ``rate`` per 1,000, rounded up."""
    return math.ceil(max(tokens, 0) * rate / 1000)


@dataclass(frozen=True)
class PriceListVersion:
    id: uuid.UUID
    version: int
    effective_from: datetime
    created_at: datetime
    created_by: str
    reason: str
    sha256: str
    prices: PriceListDocument

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "reason": self.reason,
            "sha256": self.sha256,
            "prices": self.prices.model_dump(mode="json"),
        }


def parse(document: object) -> PriceListDocument:
    """A price list from its JSON, or :class:`Invalid` naming the first bad field."""
    if not isinstance(document, Mapping):
        raise Invalid("a price list is a JSON object", field="prices")
    try:
        return PriceListDocument.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "prices"
        raise Invalid(f"{where}: {first['msg']}", field=where) from None


def price_list_document(row: PriceList | Mapping[str, Any]) -> dict[str, Any]:
    """A version as its anchored document (verify rebuilds it from the row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    return {
        "id": str(get("id")),
        "version": int(get("version")),
        "effective_from": get("effective_from").astimezone(UTC).isoformat(),
        "prices": get("document"),
        "reason": get("reason"),
        "created_by": get("created_by"),
    }


def _version(row: PriceList) -> PriceListVersion:
    return PriceListVersion(
        row.id, row.version, row.effective_from, row.created_at, row.created_by, row.reason,
        row.sha256, PriceListDocument.model_validate(row.document),
    )  # fmt: skip


def set_price_list(
    uow: UnitOfWork,
    document: object,
    *,
    reason: str,
    now: datetime,
    effective_from: datetime | None = None,
    backdate_first: bool = False,
) -> PriceListVersion:
    """Write the tenant's next price list version, in force from
    ``effective_from`` (default now; never in the past). ``backdate_first``
    (the demo data, whose events are dated in the past) lets a tenant's
    first version take effect in the past while nothing was ever charged:
    no charge can then have been priced by another list."""
    prices = parse(document)
    reason = service._reason(reason)
    effective = effective_from or now
    if effective.tzinfo is None:
        raise Invalid("give effective_from with a time zone (e.g. ...Z)", field="effective_from")
    cur = uow.driver().cursor()
    # One writer at a time per tenant: the next version number is taken under lock.
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('ledger_price_lists:' || %(t)s))",
                {"t": str(uow.tenant)})  # fmt: skip
    last = cur.execute("SELECT coalesce(max(version), 0) FROM ledger_price_lists").fetchone()
    if effective < now - SKEW and not (backdate_first and _never_priced(uow, last)):
        raise Invalid(
            "a price list cannot take effect in the past: charges already made were priced "
            "by the list then in force",
            field="effective_from",
        )
    body = prices.model_dump(mode="json")
    row = PriceList(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        version=int(last[0] if last else 0) + 1,
        effective_from=effective,
        document=body,
        reason=reason,
        created_by=f"{uow.actor.kind}:{uow.actor.id}"[:200],
        sha256="",
    )
    row.sha256 = document_sha256(price_list_document(row))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        ACTION,
        (SUBJECT, row.id),
        {
            "version": row.version,
            "effective_from": effective.isoformat(),
            "prices_sha256": document_sha256(body),
            "anchor": anchor(SUBJECT, row.sha256),
        },
    )
    return _version(row)


def _never_priced(uow: UnitOfWork, last: Any) -> bool:
    if last is not None and int(last[0]) > 0:
        return False
    charged = (
        uow.driver()
        .cursor()
        .execute("SELECT 1 FROM ledger_transfers WHERE kind = 'charge' LIMIT 1")
        .fetchone()
    )
    return charged is None


def versions(uow: UnitOfWork) -> list[PriceListVersion]:
    """Every version, newest first."""
    from sqlalchemy import select

    rows = uow.scalars(select(PriceList).order_by(PriceList.version.desc()))
    return [_version(r) for r in rows]


def in_force(uow: UnitOfWork, at: datetime) -> PriceListVersion | None:
    """The version in force at ``at``: the latest one already effective."""
    from sqlalchemy import select

    row = uow.scalar(
        select(PriceList)
        .where(PriceList.effective_from <= at)
        .order_by(PriceList.effective_from.desc(), PriceList.version.desc())
        .limit(1)
    )
    return _version(row) if row is not None else None


def by_version(uow: UnitOfWork, version: int) -> PriceListVersion | None:
    from sqlalchemy import select

    row = uow.scalar(select(PriceList).where(PriceList.version == version))
    return _version(row) if row is not None else None


@dataclass(frozen=True)
class Quote:
    """What ``count`` events would cost now, under which version."""

    version: int | None  # None: the tenant is not metered
    item: str
    level: str
    count: int
    per_unit: int

    @property
    def total(self) -> int:
        return self.per_unit * self.count


def quote(uow: UnitOfWork, item: str, level: str, count: int, *, now: datetime) -> Quote:
    found = in_force(uow, now)
    if found is None:
        return Quote(None, item, level, count, 0)
    return Quote(found.version, item, level, count, found.prices.per_unit(item, level))


def require_funds(uow: UnitOfWork, q: Quote) -> None:
    """Refuse, before anything is done, ``count`` events the tenant's credit
    cannot pay for (402 naming the total, the balance and the shortfall)."""
    if q.total == 0:
        return
    held = service.balance(uow, service.CREDITS)
    if held < q.total:
        what = f"{q.count} {q.item}{'s' if q.count != 1 else ''}"
        raise service.InsufficientFunds(
            f"{what} at the {q.level} level cost {q.total} credits "
            f"({q.per_unit} each, price list version {q.version}); your organisation holds "
            f"{held}, {q.total - held} short. Nothing was done: ask for a top-up, then try again",
            account=service.CREDITS,
            balance=held,
            shortfall=q.total - held,
            cost=q.total,
        )


def charge_event(
    uow: UnitOfWork, item: str, event_id: uuid.UUID, level: str, *, now: datetime
) -> service.Transferred | None:
    """Charge one invitation or attempt start in the caller's transaction, at
    the price in force now; once per event (a retry charges nothing twice).
    None when the tenant is not metered or the event is free."""
    q = quote(uow, item, level, 1, now=now)
    if q.version is None or q.per_unit == 0:
        return None
    return service.charge(
        uow, q.per_unit, (item, event_id), now=now,
        meta={"price_list": str(q.version), "level": level},
    )  # fmt: skip


def recompute(
    uow: UnitOfWork, meta: Mapping[str, Any], lists: dict[int, PriceListVersion | None]
) -> int | None:
    """What a charge recorded with ``meta`` should have cost, from the
    version it names; None when the charge is not priced per event."""
    item = next((i for i in ITEMS if i in meta), None)
    version, level = meta.get("price_list"), meta.get("level")
    if item is None or version is None or level is None or not str(version).isdigit():
        return None
    n = int(str(version))
    if n not in lists:
        lists[n] = by_version(uow, n)
    found = lists[n]
    if found is None or level not in LEVELS:
        return -1
    return found.prices.per_unit(item, str(level))


__all__ = [
    "ITEMS",
    "LEVELS",
    "PriceListDocument",
    "PriceListVersion",
    "Quote",
    "ai_cost",
    "charge_event",
    "in_force",
    "parse",
    "quote",
    "require_funds",
    "set_price_list",
    "versions",
]
