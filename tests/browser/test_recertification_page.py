"""A certification manager reads what the recertification pass did and
what falls due, in a real browser: both tables name the certificate, its
holder and program; the program filter narrows them; a forged filter is
answered with a page naming the field; axe finds nothing serious at 1280
and 375 px, and the page never scrolls sideways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from invigil.certification import recertification
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.certification.factories import certificate, get, holder, program
from tests.conftest import PASSWORD, make_tenant, make_user
from tests.delivery.factories import kit_for

PAGE_WIDTH = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def test_the_recertification_page_at_1280_and_375(
    page: Page, live_server: str, database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    user = make_user(database, tenant.id, ["certification_manager"], password=PASSWORD)
    now = datetime.now(UTC)
    _, forklift = program(database, tenant.id, name="Forklift safety", validity_months=12)
    _, first_aid = program(database, tenant.id, name="First aid", validity_months=12)
    soon = certificate(
        database, tenant.id, forklift, holder(database, tenant.id, "Grace Hopper"),
        now=now - timedelta(days=340),
    )  # fmt: skip
    later = certificate(
        database, tenant.id, first_aid, holder(database, tenant.id, "Alan Turing"),
        now=now - timedelta(days=300),
    )  # fmt: skip
    done = recertification.daily_pass(database, tenant.id, kit_for(settings), now=now)
    assert done.steps["reminder"] == 2
    soon_number = get(database, tenant.id, soon).number
    later_number = get(database, tenant.id, later).number

    sign_in(page, live_server, tenant.slug, user.email, PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/certification/recertification")
    expect(page.get_by_role("heading", name="Recertification", exact=True)).to_be_visible()
    due = page.get_by_role("table", name="Steps that fall due, soonest first")
    expect(due.get_by_role("row").filter(has_text="Expiry (the state")).to_contain_text(soon_number)
    expect(due.get_by_role("row").filter(has_text="7 days before expiry")).to_contain_text(
        "Grace Hopper"
    )
    expect(due).not_to_contain_text(later_number)  # its next step is 35 days away
    taken = page.get_by_role("table", name="Steps taken, newest first")
    expect(taken).to_contain_text("30 days before expiry")
    expect(taken).to_contain_text("90 days before expiry")
    expect(taken).to_contain_text("Forklift safety")
    assert_accessible(page, "recertification (1280 px)")

    page.get_by_label("Program").select_option(label="First aid")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Nothing falls due in this time.")).to_be_visible()
    taken = page.get_by_role("table", name="Steps taken, newest first")
    expect(taken).to_contain_text(later_number)
    expect(taken).not_to_contain_text(soon_number)
    page.get_by_role("link", name="Clear filters").click()
    expect(page.get_by_role("table", name="Steps taken, newest first")).to_contain_text(soon_number)

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server}/certification/recertification")
    assert page.evaluate(PAGE_WIDTH) <= 0
    assert_accessible(page, "recertification (375 px)")

    page.goto(f"{live_server}/certification/recertification?program=not-an-id")
    expect(page.get_by_text("choose a program from the list")).to_be_visible()
