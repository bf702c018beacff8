"""Billing for people (permission billing:view): the balance and price list
in force, the history of every credit, debit and refund, and a printable
monthly statement with its CSV (docs/formats/billing-statement.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.db import platform
from invigil.errors import Invalid
from invigil.i18n import N_
from invigil.ledger import prices, service, statement
from invigil.ledger.models import Transfer
from invigil.security.permissions import Permission
from invigil.web import table
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)
P = Permission
LATEST = 10
ACCOUNT_WORDS = {
    service.CREDITS: N_("Credits available"),
    service.CONSUMED: N_("Credits consumed"),
    service.AI_USAGE: N_("AI usage"),
    service.REFUNDS: N_("Refunds"),
    service.TOPUPS: N_("Operator top-ups"),
}
LEVEL_WORDS = {"unproctored": N_("Unproctored"), "webcam": N_("Webcam"), "screen": N_("Screen")}
SUBJECT_WORDS = {"attempt": N_("Attempt"), "invitation": N_("Invitation")}
# The staff page of what a transfer was about, and the permission it needs.
SUBJECT_PAGES = {"attempt": ("/delivery/attempts/{id}", P.ATTEMPT_VIEW)}


def _day(value: str) -> date:
    found = statement.day(value, "day")
    assert found is not None
    return found


def _since(stmt: Any, value: str) -> Any:
    return stmt.where(Transfer.created_at >= statement.Period(_day(value), _day(value)).start)


def _until(stmt: Any, value: str) -> Any:
    return stmt.where(Transfer.created_at < statement.Period(_day(value), _day(value)).end)


def history_table() -> table.Table:
    """Transfers newest first, by kind and period; CSV of the same view."""
    return table.Table(
        name="billing-history",
        path="/billing/history",
        caption=N_("Transfers"),
        columns=(
            table.Column(
                "when", N_("When (UTC)"), Transfer.created_at, datetime.fromisoformat,
                export=lambda r: r.line.created_at.isoformat(),
            ),
            table.Column("for", N_("For"), export=lambda r: statement.PURPOSES[r.line.purpose][0]),
            table.Column("about", N_("About"), export=lambda r: r.subject_text),
            table.Column("credit", N_("In"), export=lambda r: max(r.line.credits, 0) or "",
                         numeric=True),
            table.Column("debit", N_("Out"), export=lambda r: max(-r.line.credits, 0) or "",
                         numeric=True),
            table.Column("kind", N_("Kind"), Transfer.kind, export=lambda r: r.line.kind),
            table.Column("id", N_("Transfer"), export=lambda r: r.line.id),
        ),
        id=Transfer.id,
        default_sort="-when",
        filters=(
            table.Filter(
                "kind", N_("Kind"), list(statement.KINDS.items()),
                lambda stmt, v: stmt.where(Transfer.kind == v), all_label=N_("Any kind"),
            ),
            table.Filter(
                "from", N_("From"), None,
                _since,
                check=_day, hint="2026-11-01",
            ),
            table.Filter(
                "to", N_("To"), None,
                _until,
                check=_day, hint="2026-11-30",
            ),
        ),
        empty=N_("No credit, debit or refund yet."),
        empty_filtered=N_("No transfer matches these filters."),
    )  # fmt: skip


@dataclass(frozen=True)
class Row:
    line: statement.Line
    label: str  # what it was for, in the reader's language
    subject_href: str | None
    subject_text: str


def rows(ctx: PageContext, found: list[statement.Line], locale: str) -> list[Row]:
    out = []
    for x in found:
        href, text = None, ""
        if x.subject is not None:
            name, ident = x.subject
            text = f"{i18n.gettext(locale, SUBJECT_WORDS[name])} {ident[:8]}"
            page = SUBJECT_PAGES.get(name)
            if page is not None and ctx.can(page[1]):
                href = page[0].format(id=ident)
        elif "storage_day" in x.meta:
            text = x.meta["storage_day"]
        elif "reference" in x.meta:
            text = x.meta["reference"]
        label = i18n.gettext(locale, statement.PURPOSES[x.purpose][1])
        out.append(Row(x, label, href, text))
    return out


def _render(request: Request, name: str, ctx: PageContext, **values: Any) -> HTMLResponse:
    return render(request, f"ledger/{name}", {"page": ctx, **values})


def _prices_view(found: prices.PriceListVersion | None) -> dict[str, Any] | None:
    if found is None:
        return None
    p = found.prices
    return {
        "version": found,
        "levels": [(LEVEL_WORDS[lv], p.invitation.model_dump()[lv], p.attempt.model_dump()[lv])
                   for lv in prices.LEVELS],
        "storage": p.evidence_gb_month,
        "ai": sorted(p.ai_per_1k_tokens.items()),
    }  # fmt: skip


@router.get("/billing", response_class=HTMLResponse)
def billing(request: Request, ctx: PageContext = requires_page(P.BILLING_VIEW)) -> HTMLResponse:
    locale = i18n.locale_of({"request": request})
    held = service.balances(ctx.uow)
    latest, _ = statement.history(ctx.uow, limit=LATEST)
    return _render(
        request, "billing.html", ctx,
        accounts=[(ACCOUNT_WORDS[c], held.get(c, 0)) for c in ACCOUNT_WORDS],
        available=held.get(service.CREDITS, 0),
        price_list=_prices_view(prices.in_force(ctx.uow, datetime.now(UTC))),
        latest=rows(ctx, latest, locale),
    )  # fmt: skip


@router.get("/billing/history", response_class=HTMLResponse)
def history(request: Request, ctx: PageContext = requires_page(P.BILLING_VIEW)) -> Response:
    locale = i18n.locale_of({"request": request})
    view = table.read(history_table(), request.query_params)
    if view.csv:
        ids = table.all_rows(ctx.uow, view, select(Transfer.id))
        found = statement.by_ids(ctx.uow, ids)
        return table.csv_response(view, rows(ctx, [found[i] for i in ids], locale))
    shown = table.fetch(ctx.uow, view, select(Transfer.id))
    found = statement.by_ids(ctx.uow, shown.rows)
    return _render(
        request, "history.html", ctx,
        t=shown.with_rows(rows(ctx, [found[i] for i in shown.rows], locale)),
        kinds=statement.KINDS,
    )  # fmt: skip


@router.get("/billing/statement", response_class=HTMLResponse)
def statement_page(request: Request, ctx: PageContext = requires_page(P.BILLING_VIEW)) -> Response:
    locale = i18n.locale_of({"request": request})
    asked = request.query_params.get("month", "")
    fmt = request.query_params.get("format", "")
    if len(asked) > 7:
        raise Invalid(N_("write a month as YYYY-MM (2026-11)"), field="month")
    if fmt not in ("", "csv"):
        raise table.BadParameter("format", "the only export is format=csv")
    within = statement.month(asked, today=datetime.now(UTC).date())
    found = statement.statement(ctx.uow, within)
    if fmt == "csv":
        name = statement.csv_name(found, platform.bound_tenant(ctx.uow).slug)
        return Response(
            statement.csv_text(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"',
                     "Cache-Control": "no-store"},
        )  # fmt: skip
    month = within.first.strftime("%Y-%m")
    return _render(
        request, "statement.html", ctx, s=found, month=month,
        groups=[(i18n.gettext(locale, statement.PURPOSES[g.purpose][1]), g) for g in found.groups],
        lines=[(r, after) for r, (_x, after) in
               zip(rows(ctx, found.lines, locale), found.running(), strict=True)],
        csv_href=f"/billing/statement?month={month}&format=csv",
    )  # fmt: skip
