"""An evidence bundle from the staff attempt page, in Chromium at phone
width: the button, the page that follows the job by itself, the signed
download (the file's SHA-256 is the one recorded), axe at 375 px."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil import demo
from invigil.audit import bundle_jobs
from invigil.audit import bundle_registry as registry
from invigil.audit.models import AuditEvent, BundleRequest
from invigil.context import Services
from invigil.db import platform
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.audit.bundle_factories import Shape, sample_builder
from tests.browser import staff_pages
from tests.browser.axe import describe, violations
from tests.browser.test_admin import sign_in
from tests.delivery.factories import kit_for

PHONE = {"width": 375, "height": 800}


@pytest.fixture(scope="module")
def seeded(database: Database, settings: Settings) -> dict[str, str]:
    staff_pages.seed_demo(database, settings.regions, kit_for(settings))
    return staff_pages.demo_ids(database)


@pytest.fixture
def builder() -> Iterator[Shape]:
    """The stand-in attempt builder (the live server runs in this process)."""
    saved = registry.registered()
    shape = Shape(members=6, member_size=300_000)
    registry.register("attempt", sample_builder(shape))
    try:
        yield shape
    finally:
        registry.restore(saved)


def test_staff_build_follow_and_download_a_bundle_on_a_phone(
    page: Page,
    live_server: str,
    database: Database,
    settings: Settings,
    seeded: dict[str, str],
    builder: Shape,
    tmp_path: Path,
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "acme", "admin@acme.test", demo.DEFAULT_PASSWORD)
    page.goto(f"{live_server}/delivery/attempts/{seeded['attempt_id']}")
    page.get_by_role("button", name="Build evidence bundle").click()
    expect(page.get_by_role("heading", name="Evidence bundle", exact=True)).to_be_visible()
    expect(page.get_by_text("The bundle is queued. This page shows its progress.")).to_be_visible()
    bundle_id = uuid.UUID(page.url.rsplit("/", 1)[1])
    found = violations(page)
    assert found == [], describe(found)

    ref = platform.tenant_by_slug(database, staff_pages.DEMO_TENANT)
    assert ref is not None
    assert bundle_jobs.build(database, Services.build(settings), ref.id, bundle_id) == "ready"
    # the page notices by itself (it polls its status) and offers the download
    download_button = page.get_by_role("button", name="Download the bundle")
    expect(download_button).to_be_visible(timeout=15_000)
    found = violations(page)
    assert found == [], describe(found)

    with page.expect_download() as started:
        download_button.click()
    saved = tmp_path / "bundle.zip"
    started.value.save_as(saved)
    with database.unit_of_work(ref.id) as uow:
        row = uow.get(BundleRequest, bundle_id)
        downloads = uow.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_id == str(bundle_id), AuditEvent.action == "bundle.downloaded"
            )
        )
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == row.sha256
    expect(page.get_by_text(row.sha256 or "-")).to_be_visible()
    assert len(downloads) == 1
