"""A certification manager asks for a certificate's evidence bundle, downloads
it, and an auditor verifies it offline: in Chromium, the bundle card a
certificate page includes (``certification/_bundle.html``, rendered by the
app's own templates and put on a signed-in page: this branch has no
certificate page of its own), the job, the bundle page at 1280 and 375 px,
the signed download, then ``invigil bundle verify`` in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import Page, expect

import invigil
from invigil.audit import bundle_jobs
from invigil.context import Services
from invigil.db.engine import Database
from invigil.identity import service as identity
from invigil.settings import Settings
from invigil.web.pages import templates
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.certification.factories import certificate as issue
from tests.certification.factories import holder, program
from tests.certification.test_bundle import basis_of
from tests.conftest import make_tenant
from tests.shortlists.factories import exam, sit

PASSWORD = "lantern-meadow-copper-42"
EMAIL = "manager@certbundles.test"


def card(csrf: str, certificate_id: uuid.UUID, permissions: set[str]) -> str:
    """The certificate page's bundle card, as the app renders it."""
    page = SimpleNamespace(csrf=csrf, can=lambda p: str(p) in permissions)
    html: str = templates.env.get_template("certification/_bundle.html").render(
        page=page, certificate=SimpleNamespace(id=certificate_id), _=lambda s, **kw: s % kw
    )
    return html


def test_a_manager_downloads_a_certificates_bundle_and_it_verifies_offline(
    page: Page, live_server: str, database: Database, settings: Settings, tmp_path: Path
) -> None:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        identity.create_user(uow, email=EMAIL, roles=["certification_manager"], password=PASSWORD)
    e = exam(database, tenant.id)
    attempt = sit(database, tenant.id, e, "88.00")
    _, version = program(database, tenant.id, exam_ids=[e], min_percent=75)
    cid = issue(database, tenant.id, version, holder(database, tenant.id),
                basis=[basis_of(database, tenant.id, e, attempt)])  # fmt: skip
    # Someone who may not see certificates gets no card.
    assert "Build evidence bundle" not in card("x", cid, {"result:view"})

    sign_in(page, live_server, tenant.slug, EMAIL, PASSWORD)
    page.goto(f"{live_server}/home")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    html = card(csrf, cid, {"result:view", "certificate:view"})
    page.evaluate("html => { document.querySelector('main').innerHTML = html; }", html)
    assert_accessible(page, "the certificate's evidence bundle card")
    page.get_by_role("button", name="Build evidence bundle").click()
    expect(page.get_by_role("heading", name="Evidence bundle", exact=True)).to_be_visible()
    bundle_id = uuid.UUID(page.url.rsplit("/", 1)[1])
    assert bundle_jobs.build(database, Services.build(settings), tenant.id, bundle_id) == "ready"
    download_button = page.get_by_role("button", name="Download the bundle")
    expect(download_button).to_be_visible(timeout=15_000)
    expect(page.get_by_text(str(cid))).to_be_visible()
    assert_accessible(page, "the bundle page of a certificate at 1280 px")
    page.set_viewport_size({"width": 375, "height": 800})
    assert_accessible(page, "the bundle page of a certificate at 375 px")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 900})
    with page.expect_download() as started:
        download_button.click()
    saved = tmp_path / "certificate.zip"
    started.value.save_as(saved)

    checked = subprocess.run(
        [sys.executable, "-m", "invigil", "--json", "bundle", "verify", str(saved)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(invigil.__file__).parents[1])},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = json.loads(checked.stdout)
    assert summary["ok"] and summary["kind"] == "certificate" and summary["subject"] == str(cid)
    assert summary["checks"]["requirements"] == "ok" and summary["checks"]["state"] == "ok"
    assert summary["counts"]["results"] == 1 and summary["counts"]["state changes"] == 1
