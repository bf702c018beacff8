"""A tenant admin records a person's access request in a real browser,
sees when it is due, builds the export and downloads it: the list, the
form and the request page are axe-clean at desktop and phone width, and
the downloaded ZIP is the person's export."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import text

from invigil import i18n
from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.delivery.factories import attempt_factory
from tests.retention import queued

PASSWORD = "harbour-quartz-willow-42"


def build_queued_exports(database: Database, settings: Settings, tenant: uuid.UUID) -> None:
    """Run the queued retention.build_export jobs as the worker would."""
    from invigil.context import Services
    from invigil.retention import jobs, requests

    with database.engine.begin() as conn:
        taken = queued.take(conn, requests.BUILD_EXPORT, tenant)
    services = Services.build(settings)
    for args in taken:
        assert jobs.run_export(database, services, args["tenant_id"], args["request_id"]) == "ready"


def test_an_admin_records_an_access_request_and_downloads_the_export(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)  # its own tenant, not the demo's
    attempt_id = attempt_factory(database, tenant)
    admin = f"admin-{uuid.uuid4().hex[:8]}@privacy.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=admin, roles=["tenant_admin"], password=PASSWORD, display_name="Adm"
        )
        email, name = uow.session.execute(
            text(
                "SELECT c.email, c.name FROM attempts a JOIN candidates c "
                "ON c.tenant_id = a.tenant_id AND c.id = a.candidate_id WHERE a.id = :a"
            ),
            {"a": uuid.UUID(attempt_id)},
        ).one()

    sign_in(page, live_server, tenant.slug, admin, PASSWORD)
    page.get_by_role("link", name="Privacy requests").click()
    expect(page.get_by_role("heading", name="Privacy requests")).to_be_visible()
    expect(page.get_by_text("No request recorded yet.")).to_be_visible()
    page.get_by_role("link", name="Record a request").click()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the new privacy request form at {width} px")

    # a request received in the future is refused, with the field named
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    page.get_by_label("The person's e-mail address").fill(email)
    page.get_by_label("Access (a copy of their data)").check()
    page.get_by_label("Received on").fill(tomorrow)
    page.get_by_role("button", name="Record the request").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert_accessible(page, "the new privacy request form with an error")

    received = datetime.now(UTC).date() - timedelta(days=2)
    page.get_by_label("Received on").fill(received.isoformat())
    page.get_by_label("Access (a copy of their data)").check()
    page.get_by_role("button", name="Record the request").click()
    due = i18n.local_date(received + timedelta(days=30), "en")
    expect(page.get_by_text(f"Request recorded. It is due on {due}.")).to_be_visible()
    expect(
        page.get_by_role("heading", name=f"Access (a copy of their data): {name}")
    ).to_be_visible()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"an open access request at {width} px")

    page.get_by_role("button", name="Build the export").click()
    expect(page.get_by_text("The export is being built.")).to_be_visible()
    expect(page.get_by_text("is waiting for a worker")).to_be_visible()
    assert_accessible(page, "an access request whose export is being built")
    build_queued_exports(database, settings, tenant.id)  # the worker's part (the server runs none)
    page.get_by_role("link", name="Reload").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the export (ZIP)").click()
    saved = info.value.path()
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        assert {"README.txt", "person.json", "manifest.json"} <= set(archive.namelist())
        data = json.loads(archive.read("person.json"))
    assert data["person"]["email"] == email
    assert [a["id"] for a in data["attempts"]] == [attempt_id]
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"a completed access request at {width} px")

    page.get_by_role("link", name="Privacy requests", exact=True).first.click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(due)
    expect(row).to_contain_text("Completed")
    assert_accessible(page, "the privacy requests list")
