"""A metered organisation without credit for a start: the candidate is told,
in the player, to contact the organiser (never the organisation's balance),
the attempt waits, and it begins once the organisation is topped up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.ledger import prices, service
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

PRICES = {
    "invitation": {"unproctored": 1, "webcam": 1, "screen": 1},
    "attempt": {"unproctored": 2, "webcam": 3, "screen": 5},
    "evidence_gb_month": 1,
    "ai_per_1k_tokens": {"*": 1},
}


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        now = datetime.now(UTC)
        prices.set_price_list(uow, PRICES, reason="plan", now=now)
        service.credit(uow, 1, "T-first", now=now)  # the invitation, not the start
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def test_a_start_the_organisation_cannot_pay_waits_for_credit(page: Page, org: c.Org) -> None:
    problems = c.watch(page)
    c.start(page, org.link(org.exam()))
    expect(page.get_by_role("heading", name="This exam cannot start right now")).to_be_visible()
    body = page.locator("main").inner_text()
    assert "contact them" in body and "credit" not in body and "balance" not in body
    assert_accessible(page, "the player: the organiser cannot pay for the start")
    attempt_id = c.boot(page)["attempt_id"]
    assert org.attempt(attempt_id).status == "ready"
    with org.database.unit_of_work(org.tenant_id, Actor.operator("test")) as uow:
        service.credit(uow, 10, f"T-{uuid.uuid4().hex[:6]}", now=datetime.now(UTC))
    page.reload()
    c.heading(page, 1, 8)
    assert org.attempt(attempt_id).status == "in_progress"
    with org.database.unit_of_work(org.tenant_id) as uow:
        assert service.balance(uow) == 10 - 2
    assert problems == []
