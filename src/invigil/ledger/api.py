"""The tenant's billing over HTTP (permission billing:view): balances and
the price list in force, the history of every credit, debit and refund,
one transfer, the price list's versions, and a statement of a period
(docs/formats/billing-statement.md for its CSV)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from invigil.db import platform
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.ledger import prices, service, statement
from invigil.pagination import PageLimit, check_limit, decode_cursor, encode_cursor
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/billing", tags=["billing"])
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC, inclusive)")]


def _price_list(uow: UnitOfWork, now: datetime) -> dict[str, Any] | None:
    found = prices.in_force(uow, now)
    return found.as_dict() if found is not None else None


@router.get("/balance")
def balance(uow: UnitOfWork = requires(P.BILLING_VIEW)) -> dict[str, Any]:
    """Every account's balance (whole credits) and the price list in force
    (null: the tenant is not metered)."""
    held = service.balances(uow)
    return {
        "accounts": {code: held.get(code, 0) for code in sorted(service.ACCOUNTS)},
        "credits_available": held.get(service.CREDITS, 0),
        "price_list": _price_list(uow, datetime.now(UTC)),
    }


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        at, tid = values
        return datetime.fromisoformat(at), uuid.UUID(tid)
    except (ValueError, TypeError, AttributeError):
        raise Invalid("the cursor is not valid; start again without it", field="cursor") from None


@router.get("/transfers")
def transfers(
    kind: Annotated[str | None, Query(max_length=32, description="charge, reversal, topup")] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Day = None,
    limit: PageLimit = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    uow: UnitOfWork = requires(P.BILLING_VIEW),
) -> dict[str, Any]:
    """Transfers newest first, each with its legs, meta, reason and what it
    was for; filtered by kind and by period (whole UTC days)."""
    check_limit(limit)
    within = statement.period(from_, to, today=datetime.now(UTC).date(), default_month=False)
    found, more = statement.history(
        uow, limit=limit, after=_after(cursor), kind=kind or None, within=within
    )
    nxt = encode_cursor([found[-1].created_at.isoformat(), str(found[-1].id)]) if more else None
    return {"items": [x.as_dict() for x in found], "next": nxt}


@router.get("/transfers/{transfer_id}")
def transfer(transfer_id: uuid.UUID, uow: UnitOfWork = requires(P.BILLING_VIEW)) -> dict[str, Any]:
    """One transfer (404 when the tenant has no such transfer)."""
    found = statement.line(uow, transfer_id)
    reversed_by = (
        uow.driver()
        .cursor()
        .execute("SELECT id FROM ledger_transfers WHERE reverses_id = %(id)s", {"id": found.id})
        .fetchone()
    )
    return found.as_dict() | {"reversed_by": str(reversed_by[0]) if reversed_by else None}


@router.get("/price-list")
def price_list(uow: UnitOfWork = requires(P.BILLING_VIEW)) -> dict[str, Any]:
    """The version in force now and every version, newest first."""
    return {
        "in_force": _price_list(uow, datetime.now(UTC)),
        "versions": [v.as_dict() for v in prices.versions(uow)],
    }


@router.get("/statement", response_model=None)
def statement_of(
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to: Day = None,
    format: Annotated[str | None, Query(max_length=8, description="json (default) or csv")] = None,
    uow: UnitOfWork = requires(P.BILLING_VIEW),
) -> dict[str, Any] | Response:
    """credits_available over a period (default: the current month):
    opening balance, movements grouped by what they were for, closing
    balance, and whether opening + movements = closing was found to hold."""
    if format not in (None, "", "json", "csv"):
        raise Invalid("format is json or csv", field="format")
    within = statement.period(from_, to, today=datetime.now(UTC).date())
    assert within is not None
    found = statement.statement(uow, within)
    if format == "csv":
        name = statement.csv_name(found, platform.bound_tenant(uow).slug)
        return Response(
            statement.csv_text(found),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )
    return found.as_dict()
