"""Webhooks as an administrator meets them: add an endpoint (the secret is
shown once), send a test event, read its failed attempt in the delivery log.
Every page passes axe and fits 375 px."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.context import Services
from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from invigil.webhooks import jobs
from invigil.webhooks.models import WebhookDelivery
from tests.browser import axe
from tests.browser.test_admin import ADMIN_PASSWORD, sign_in
from tests.conftest import make_tenant
from tests.webhooks.factories import EVENT


def fits(page: Page, what: str) -> None:
    axe.assert_accessible(page, what)
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, what
    page.set_viewport_size({"width": 1280, "height": 800})


def test_an_admin_adds_an_endpoint_and_follows_a_delivery(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email="hal@hooks.test", roles=["tenant_admin"], password=ADMIN_PASSWORD
        )
    sign_in(page, live_server, tenant.slug, "hal@hooks.test", ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    fits(page, "the endpoint list (empty)")

    page.get_by_role("link", name="Add an endpoint").click()
    page.get_by_role("textbox", name="URL").fill("https://127.0.0.1/hook")
    page.get_by_role("checkbox", name=re.compile(re.escape(EVENT))).check()
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("alert", name="There is a problem")).to_contain_text("non-public")
    expect(page.get_by_role("textbox", name="URL")).to_have_attribute("aria-invalid", "true")
    fits(page, "the endpoint form with an error")

    page.get_by_role("textbox", name="URL").fill("https://ats.example.invalid/hook")
    page.get_by_role("textbox", name="Description (optional)").fill("Our ATS")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.locator("code.link")).to_have_text(re.compile(r"^whsec_[A-Za-z0-9_-]{43}$"))
    fits(page, "the secret, shown once")

    page.get_by_role("link", name="Back to the endpoint").click()
    expect(page.locator("code.link")).to_have_count(0)
    fits(page, "the endpoint page")
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status")).to_contain_text("Test event queued")
    expect(page.get_by_role("heading", name="Delivery of webhook.ping")).to_be_visible()

    with database.unit_of_work(tenant.id) as uow:
        (delivery,) = uow.scalars(select(WebhookDelivery))
    jobs.run(database, Services.build(settings), str(tenant.id), str(delivery.id), 1)
    page.reload()
    attempts = page.get_by_role("table", name="Attempts, newest first")
    expect(attempts).to_contain_text("could not be resolved")
    fits(page, "the delivery page with an attempt")

    page.get_by_role("link", name="Delivery log").click()
    expect(page.get_by_role("table", name="Webhook deliveries")).to_contain_text("webhook.ping")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_text("No delivery matches these filters.")).to_be_visible()
    fits(page, "the delivery log, filtered")
