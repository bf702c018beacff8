"""A tenant admin reads the trust report in a real browser: the page is
axe-clean and fits a phone (375 px), says what changed (a hold placed just
before), shows what the tenant wrote as text, and its "Download PDF" gives
a real PDF of the same report."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.identity import service
from invigil.retention import holds
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.retention import queued

PASSWORD = "harbour-quartz-willow-42"
PAGE_WIDTH = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def run_queued_verifications(database: Database, settings: Settings, tenant: uuid.UUID) -> None:
    """Run the queued audit.verify_tenant jobs as the worker would."""
    from types import SimpleNamespace

    from invigil.retention import jobs
    from invigil.security.keys import Keys

    services = SimpleNamespace(keys=Keys(settings.keys_dir))
    with database.engine.begin() as conn:
        taken = queued.take(conn, jobs.VERIFY_TENANT_TASK, tenant)
    for args in taken:
        jobs.verify(database, services, args["tenant_id"], trigger="request",
                    requested_by=args["requested_by"])  # fmt: skip


def test_an_admin_reads_and_downloads_the_trust_report(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)
    admin = f"admin-{uuid.uuid4().hex[:8]}@trust.test"
    reason = "<i>works council</i> request 2026-12"
    with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        service.create_user(
            uow, email=admin, roles=["tenant_admin"], password=PASSWORD, display_name="Dana <DPO>"
        )
        holds.place(uow, "tenant", None, reason)

    sign_in(page, live_server, tenant.slug, admin, PASSWORD)
    page.goto(f"{live_server}/admin/trust")
    expect(page.get_by_role("heading", name="Trust report", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Trust report")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("cell", name=reason)).to_be_visible()  # as text, not markup
    expect(page.locator("main i")).to_have_count(0)
    expect(page.get_by_role("cell", name="Dana <DPO>")).to_be_visible()
    expect(page.get_by_text("not verified yet", exact=True)).to_be_visible()
    page.get_by_role("button", name="Verify the audit log now").click()
    expect(page.get_by_text("Verification queued")).to_be_visible()
    run_queued_verifications(
        database, settings, tenant.id
    )  # the worker's part (the server runs none)
    page.reload()
    expect(page.get_by_text("intact", exact=True)).to_be_visible()
    expect(page.get_by_text("asked for from this page", exact=False)).to_be_visible()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the trust report at {width} px")
        assert page.evaluate(PAGE_WIDTH) <= 0, f"the page scrolls sideways at {width} px"

    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename.startswith(f"trust-report-{tenant.slug}-")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    words = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())
    assert reason in words and admin in words and tenant.slug in words
