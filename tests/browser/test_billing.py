"""Billing as a billing administrator meets it: the balance and price list,
the history filtered to refunds, a month's statement with its check, its CSV
download; every page passes axe and fits 375 px."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.identity import service
from invigil.ledger import prices
from invigil.settings import Settings
from tests.browser.test_admin import ADMIN_PASSWORD, sign_in
from tests.browser.test_webhooks import fits
from tests.conftest import make_tenant
from tests.ledger.test_billing_api import every_kind
from tests.ledger.test_prices import PRICES


def test_a_billing_admin_reads_the_balance_history_and_statement(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)
    every_kind(database, tenant.id)
    with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        prices.set_price_list(uow, PRICES, reason="standard", now=datetime.now(UTC))
        service.create_user(
            uow, email="bea@bills.test", roles=["billing_admin"], password=ADMIN_PASSWORD
        )
    sign_in(page, live_server, tenant.slug, "bea@bills.test", ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Accounts")).to_contain_text("977")
    expect(page.get_by_role("table", name="Credits per event, by proctoring level")).to_be_visible()
    fits(page, "the billing page")

    page.get_by_role("link", name="Full history").first.click()
    expect(page.get_by_role("heading", name="Billing history")).to_be_visible()
    page.get_by_label("Kind").select_option("reversal")
    page.get_by_role("button", name="Filter", exact=True).click()
    table = page.get_by_role("table", name="Transfers: 1 shown (filtered).")
    expect(table).to_contain_text("Refund")
    fits(page, "the history, filtered to refunds")

    page.goto(f"{live_server}/billing/statement?month=2026-11")
    expect(page.get_by_role("heading", name="Statement for 2026-11")).to_be_visible()
    expect(page.get_by_text("Checked: the opening balance plus the movements")).to_be_visible()
    summary = page.get_by_role(
        "table", name="Opening balance, movements by what they were for, closing balance"
    )
    expect(summary).to_contain_text("Evidence storage")
    fits(page, "the statement")
    page.get_by_label("Month").fill("2026-12")
    page.get_by_role("button", name="Show statement").click()
    expect(page.get_by_role("heading", name="Statement for 2026-12")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"statement-{tenant.slug}-2026-12-01-2026-12-31.csv"
