"""A results viewer, in a real browser: from the staff attempt page to the
attempt's full result (time against the cohort, marks, integrity, versions
with their hashes and a proof to unfold), then the PDF report downloaded,
whose text carries the same hash."""

from __future__ import annotations

import io
import uuid

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from invigil import demo
from invigil.audit import checkpoints
from invigil.db import platform
from invigil.db.engine import Database
from invigil.delivery.models import AttemptResult
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.browser import staff_pages
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.delivery.factories import kit_for


@pytest.fixture(scope="module")
def seeded(database: Database, settings: Settings) -> dict[str, str]:
    staff_pages.seed_demo(database, settings.regions, kit_for(settings))
    return staff_pages.demo_ids(database)


def test_a_results_viewer_reads_an_attempts_result_and_downloads_its_report(
    page: Page, live_server: str, database: Database, settings: Settings, seeded: dict[str, str]
) -> None:
    attempt_id = seeded["attempt_id"]
    ref = platform.tenant_by_slug(database, staff_pages.DEMO_TENANT)
    assert ref is not None
    with database.unit_of_work(ref.id) as uow:
        digest = uow.scalar(
            select(AttemptResult.document_sha256)
            .where(AttemptResult.attempt_id == uuid.UUID(attempt_id))
            .order_by(AttemptResult.revision.desc())
        )
    assert digest is not None
    with database.unit_of_work(ref.id) as uow:  # a checkpoint now covers the result's entry
        checkpoints.seal(uow, Keys(settings.keys_dir).audit)

    sign_in(page, live_server, "acme", "results_viewer@acme.test", demo.DEFAULT_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/delivery/attempts/{attempt_id}")
    page.get_by_role("link", name="The full result").click()
    expect(page).to_have_url(f"{live_server}/attempts/{attempt_id}/result")
    expect(page.get_by_role("heading", name="Time against the cohort")).to_be_visible()
    expect(page.get_by_role("heading", name="Rubric marks")).to_be_visible()
    expect(page.get_by_role("heading", name="Integrity summary")).to_be_visible()
    versions = page.get_by_role("table", name="Versions, oldest first")
    expect(versions).to_contain_text(digest)
    expect(versions.get_by_text("verified", exact=True).last).to_be_visible()
    page.get_by_text("Verify revision 1", exact=True).click()  # the proof's steps unfold
    proof = page.locator("details.proof").first
    expect(proof.get_by_text("Root hash", exact=True)).to_be_visible()
    expect(proof.get_by_text("The last step gives the checkpoint's root hash")).to_be_visible()
    assert_accessible(page, "an attempt's result")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download the PDF report").click()
    download = waiting.value
    assert download.suggested_filename == f"result-{attempt_id}.pdf"
    path = download.path()
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)
    assert digest in "".join(text.split())
    assert "Rubric marks" in text and "Integrity summary" in text and "verified" in text
