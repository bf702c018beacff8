"""The player's timer follows the server's clock, warns twice, and submits
by itself when the time is up (the browser's own clock is faked here)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, Route, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def _lose(route: Route) -> None:
    route.abort("internetdisconnected")


def test_a_wrong_device_clock_does_not_change_the_time_left(page: Page, org: c.Org) -> None:
    page.clock.install(time=datetime.now(UTC) + timedelta(hours=3))  # the device is 3 h fast
    c.start(page, org.link(org.exam(time_limit_minutes=30)))
    c.heading(page, 1, 8)
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^(30:00|29:[45]\d)$"))
    expect(page).to_have_url(re.compile(r"/exam$"))


def test_the_timer_warns_at_5_and_1_minutes_and_submits_at_zero(page: Page, org: c.Org) -> None:
    page.clock.install()
    c.start(page, org.link(org.exam(time_limit_minutes=6)))
    c.heading(page, 1, 8)
    attempt_id = c.boot(page)["attempt_id"]
    paper = c.paper(page)
    c.answer(page, paper[0]["type"])
    c.saved(page)
    # From here on nothing gets through before the submit, so nothing resyncs the
    # clock: only the device's (fast-forwarded) clock counts.
    page.route("**/api/heartbeat", _lose)
    page.route("**/api/answers", _lose)
    page.get_by_role("button", name="Next", exact=True).click()
    c.answer(page, paper[1]["type"])  # queued on the device
    announcer = page.locator("#announcer")

    page.clock.run_for("01:05")
    expect(announcer).to_have_text("5 minutes left.")
    expect(page.locator("#timer")).to_have_class(re.compile(r"\blow\b"))
    page.clock.run_for("04:00")
    expect(announcer).to_have_text("1 minute left.")
    page.clock.run_for("01:00")
    expect(page).to_have_url(re.compile(r"/done$"))
    expect(page.get_by_text("Your exam has been submitted.")).to_be_visible()
    assert org.attempt(attempt_id).status == "submitted"
    want = c.expected(paper)
    stored = org.answers(attempt_id)
    assert {i: a.response for i, a in stored.items()} == {0: want[0], 1: want[1]}
