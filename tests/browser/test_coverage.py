"""A certification manager reads the demo tenant's coverage in a real
browser: the dashboard's bars and the table behind them, a drill-down into
the people expiring within 30 days, a group's page with an added member,
and the matrix at 375 px; axe finds nothing serious at 1280 or 375 px and
the page itself never scrolls sideways."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from invigil import demo
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.delivery.factories import kit_for

PAGE_WIDTH = "() => document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def seeded(database: Database, settings: Settings) -> None:
    demo.seed(database, regions=settings.regions, kit=kit_for(settings))


def test_coverage_dashboard_matrix_and_a_group_at_1280_and_375(
    page: Page, live_server: str, seeded: None
) -> None:
    sign_in(page, live_server, "acme", "certification_manager@acme.test", demo.DEFAULT_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/certification/coverage")
    expect(page.get_by_role("heading", name="Coverage", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="Members per status, by program")
    expect(chart).to_be_visible()
    table = page.get_by_role("table", name="Members per status, by program")
    expect(table.get_by_role("rowheader", name="Customer data handling")).to_be_visible()
    summary = page.get_by_role("table", name="Coverage per group and program")
    row = summary.get_by_role("row").filter(has_text="Support team")
    expect(row).to_have_count(1)
    assert_accessible(page, "coverage dashboard (1280 px)")

    # Drill down from the count of Support team's "never certified" (Gus, in the demo).
    row.get_by_role("link").filter(has_text="1").last.click()
    expect(page).to_have_url(re.compile(r"/certification/coverage/matrix\?.*status=never"))
    expect(page.get_by_role("rowheader").filter(has_text="Gus Ortega")).to_be_visible()
    page.goto(f"{live_server}/certification/coverage/matrix?status=expiring_30")
    matrix = page.get_by_role("table", name="People and required programs")
    expect(matrix.get_by_role("rowheader").filter(has_text="Ben Okafor")).to_be_visible()
    expect(matrix.get_by_text("Expires in 30 days").first).to_be_visible()
    assert_accessible(page, "coverage matrix (1280 px)")

    page.get_by_role("link", name="Groups", exact=True).click()
    page.get_by_role("link", name="Support team").click()
    expect(page.get_by_role("heading", name="Support team")).to_be_visible()
    page.get_by_label("Email", exact=True).fill("new.member@example.com")
    page.get_by_label("Name (for a new person)").fill("New Member")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("rowheader", name="New Member")).to_be_visible()
    assert_accessible(page, "group (1280 px)")

    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/certification/coverage", "/certification/coverage/matrix"):
        page.goto(f"{live_server}{path}")
        assert page.evaluate(PAGE_WIDTH) <= 0, path  # tables scroll in their own box
        assert_accessible(page, f"{path} (375 px)")
