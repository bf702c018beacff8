"""The billing pages: balance, price list and latest movements; the history
with its filters, links to attempt pages for those who may open them, and
its CSV; the monthly statement with its check and CSV; the navigation link
for billing:view only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from fastapi import FastAPI

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.ledger import prices
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.ledger.test_billing_api import every_kind
from tests.ledger.test_prices import PRICES
from tests.test_pages_matrix import web_client


def test_billing_pages(app: FastAPI, database: Database, db: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings)
    made = every_kind(database, tenant.id)
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        prices.set_price_list(uow, PRICES, reason="standard", now=datetime.now(UTC))
    billing, _ = web_client(app, db, tenant.id, ["billing_admin"])
    admin, _ = web_client(app, db, tenant.id, ["tenant_admin"])

    home = billing.get("/billing")
    assert home.status_code == 200, home.text
    assert 'href="/billing"' in home.text  # the navigation link
    assert "977" in home.text  # credits available after every kind of transfer
    assert "Version 1" in home.text and "big-model" in home.text
    assert "Evidence storage" in home.text and "AI call" in home.text and "Refund" in home.text

    history = billing.get("/billing/history")
    assert history.status_code == 200
    attempt_link = f'href="/delivery/attempts/{made["attempt_id"]}"'
    assert attempt_link not in history.text  # billing_admin holds no attempt:view
    assert attempt_link in admin.get("/billing/history").text
    refunds = billing.get("/billing/history?kind=reversal")
    assert refunds.text.count("<tr>") == 2  # the heading and the refund
    november = billing.get("/billing/history?from=2026-11-01&to=2026-11-30")
    assert november.text.count("<tr>") == 6
    assert billing.get("/billing/history?from=November").status_code == 400
    exported = billing.get("/billing/history?format=csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 7 and rows[-1]["In"] == "1000" and rows[0]["Out"] == "11"

    month = billing.get("/billing/statement?month=2026-11")
    assert month.status_code == 200
    assert "Statement for 2026-11" in month.text and "Checked:" in month.text
    assert "1,000" in month.text and "988" in month.text
    assert billing.get("/billing/statement?month=2026-13").status_code == 422
    assert billing.get("/billing/statement?month=nov").status_code == 422
    assert 'href="/billing/statement?month=2026-11&amp;format=csv"' in month.text
    sheet = billing.get("/billing/statement?month=2026-11&format=csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    assert sheet.text.splitlines()[-1].startswith("2026-12-01T00:00:00+00:00,,closing,")

    grader, _ = web_client(app, db, tenant.id, ["grader"])
    assert grader.get("/billing").status_code == 403
    assert 'href="/billing"' not in grader.get("/account").text
