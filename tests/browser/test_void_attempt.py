"""A tenant admin voids a running attempt from its staff page in a real
browser: the form (reason, note, confirmation) and the voided attempt's
page are axe-clean at desktop and phone width, the refund is shown, and the
server recorded the void and gave the start's credits back."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.models import Attempt, AttemptVoid
from invigil.identity import service
from invigil.ledger import service as ledger
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.delivery.test_voids import _sit

PASSWORD = "harbour-quartz-willow-42"


def test_an_admin_voids_a_running_attempt_from_its_page(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    s = _sit(database, settings)  # its own metered tenant: 100 credits, the start cost 4
    admin = f"admin-{uuid.uuid4().hex[:8]}@voids.test"
    with database.unit_of_work(s.tenant) as uow:
        service.create_user(
            uow, email=admin, roles=["tenant_admin"], password=PASSWORD, display_name="Adm"
        )
        tenant = uow.session.get(Tenant, s.tenant)
        assert tenant is not None
        tenant_slug = tenant.slug

    sign_in(page, live_server, tenant_slug, admin, PASSWORD)
    page.goto(f"{live_server}/delivery/attempts/{s.attempt_id}")
    expect(page.get_by_role("heading", name="Void this attempt")).to_be_visible()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the attempt page with the void form at {width} px")

    page.get_by_label("Technical failure").check()
    page.get_by_label("Note").fill("The webcam froze after ten minutes.")
    page.get_by_label("I confirm: void this attempt. This cannot be undone.").check()
    page.get_by_role("button", name="Void the attempt").click()

    expect(page.get_by_text("Attempt voided.")).to_be_visible()
    expect(page.get_by_role("heading", name="Voided", exact=True)).to_be_visible()
    expect(page.get_by_text("4 credits given back")).to_be_visible()
    expect(page.get_by_text("The webcam froze after ten minutes.")).to_be_visible()
    expect(page.get_by_role("heading", name="Void this attempt")).to_have_count(0)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"a voided attempt's page at {width} px")

    page.goto(f"{live_server}/delivery/attempts?status=voided")
    expect(page.get_by_text("4 credits refunded")).to_be_visible()
    assert_accessible(page, "the attempts list with a voided attempt")

    with database.unit_of_work(s.tenant) as uow:
        row = uow.scalar(select(AttemptVoid).where(AttemptVoid.attempt_id == s.attempt_id))
        assert row is not None and row.reason == "technical_failure"
        assert row.refund_transfer_id is not None
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt is not None and attempt.submit_reason == "voided"
        assert ledger.balances(uow)[ledger.CREDITS] == 100
