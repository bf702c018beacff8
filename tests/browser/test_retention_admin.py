"""A tenant admin, in a real browser, writes a retention policy with longer
evidence for strict exams, then places a legal hold on a candidate found
by e-mail and lifts it: each page is axe-clean at desktop and phone width
and never scrolls sideways at 375 px, and the server recorded what the
browser showed."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.identity import service
from invigil.retention import holds, policy
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.browser.test_staff_pages import OVERFLOW, SETTLED
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, make_invitation

PASSWORD = "harbour-quartz-willow-42"


def checked(page: Page, what: str) -> None:
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate(SETTLED)
        assert_accessible(page, f"{what} at {width} px")
        if width == 375:
            assert page.evaluate(OVERFLOW) is None, f"{what} scrolls sideways at 375 px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_admin_sets_the_policy_and_places_and_lifts_a_hold(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)  # its own tenant: the demo tenants stay untouched
    email = f"rita-{uuid.uuid4().hex[:6]}@hold.test"
    made = make_invitation(database, tenant.id, kit_for(settings), name="Rita Holden", email=email)
    admin = f"admin-{uuid.uuid4().hex[:8]}@retention.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=admin, roles=["tenant_admin"], password=PASSWORD, display_name="Adm"
        )

    sign_in(page, live_server, tenant.slug, admin, PASSWORD)
    page.get_by_role("link", name="Retention").click()
    expect(page.get_by_role("heading", name="Retention policy")).to_be_visible()
    expect(page.get_by_text("Version 0: the documented defaults.")).to_be_visible()
    checked(page, "the retention policy page")

    # A mistake first: the error is named, what was typed stays.
    page.locator("#f-preset_strict").fill("0")
    page.get_by_role("button", name="Put this version in force").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.locator("#f-reason-err")).to_be_visible()
    expect(page.locator("#f-preset_strict")).to_have_value("0")
    checked(page, "the retention policy form with errors")

    page.locator("#f-preset_strict").fill("240")
    page.locator("#f-days_evidence").fill("200")
    page.get_by_label("Why it changes").fill("Works council agreement, strict exams")
    page.get_by_role("button", name="Put this version in force").click()
    expect(page.get_by_text("The new retention policy is in force.")).to_be_visible()
    evidence = page.locator('td[data-class="evidence"]')
    expect(evidence).to_contain_text("kept 200 days after the attempt is submitted")
    expect(evidence).to_contain_text("strict: 240")
    expect(page.get_by_text("Works council agreement, strict exams")).to_be_visible()

    page.get_by_role("link", name="Every version, with what changed").click()
    expect(page.get_by_role("heading", name="Version 1", exact=True)).to_be_visible()
    checked(page, "the retention history")

    page.goto(f"{live_server}/admin/retention/holds")
    page.get_by_label("Find a candidate by e-mail or name").fill(email)
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("link", name=f"Rita Holden <{email}>").click()
    page.get_by_label(f"The candidate Rita Holden ({email})").check()
    page.get_by_label("Reason").fill("Employment tribunal claim")
    page.get_by_role("button", name="Place hold").click()
    expect(page.get_by_text("Legal hold placed")).to_be_visible()
    row = page.locator("tr", has_text="Employment tribunal claim")
    expect(row).to_contain_text("Rita Holden")
    checked(page, "the legal holds page with a hold in force")

    row.get_by_label("Why it is lifted").fill("Claim withdrawn")
    row.get_by_role("button", name="Lift hold").click()
    expect(page.get_by_text("Legal hold lifted.")).to_be_visible()
    expect(page.get_by_text("No hold is in force.")).to_be_visible()
    expect(page.locator("tr", has_text="Claim withdrawn")).to_contain_text("Rita Holden")
    checked(page, "the legal holds page with a lifted hold")

    with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        now = policy.current(uow)
        assert now.version == 1 and now.document.rule("evidence").days_for("strict") == 240
        assert now.document.rule("evidence").keep_days == 200
        (hold,) = holds.history(uow)
        assert hold.subject_id == made.invitation.candidate_id and not hold.active
        assert hold.lift_reason == "Claim withdrawn"
