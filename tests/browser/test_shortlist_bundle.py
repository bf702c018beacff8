"""A shortlister downloads the evidence bundle of a shortlist run and an
auditor verifies it offline: in Chromium, the run page's button, the job,
the signed download, then ``invigil bundle verify`` in its own process on
the downloaded file (the frozen rules re-rank the cohort there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

import invigil
from invigil.audit import bundle_jobs
from invigil.context import Services
from invigil.db.engine import Database
from invigil.identity import service as identity
from invigil.settings import Settings
from invigil.shortlists import service, stages
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.shortlists.factories import exam, rule_set, sit

PASSWORD = "lantern-meadow-copper-42"
EMAIL = "shortlister@bundles.test"


def test_a_shortlister_downloads_the_runs_bundle_and_it_verifies_offline(
    page: Page, live_server: str, database: Database, settings: Settings, tmp_path: Path
) -> None:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        identity.create_user(uow, email=EMAIL, roles=["shortlister"], password=PASSWORD)
    e = exam(database, tenant.id)
    for i in range(5):  # like the demo: graded, one still being graded, one flagged
        sit(database, tenant.id, e, f"{90 - 7 * i}.00", categories={"Writing": f"{80 - 5 * i}"},
            minutes=20 + i)  # fmt: skip
    sit(database, tenant.id, e, "97.00", pending=True)
    sit(database, tenant.id, e, "96.00", integrity="flagged")
    rules_id = rule_set(database, tenant.id, {"min_percent": "60", "top_n": 3,
                                              "tie_breaks": ["shorter_time"]})  # fmt: skip
    with database.unit_of_work(tenant.id) as uow:
        run = service.create_run(uow, rules_id, exam_ids=[e])
        stages.move(uow, run.id, service.entries(uow, run.id)[0].attempt_id, "interview")
        run_id = run.id

    sign_in(page, live_server, tenant.slug, EMAIL, PASSWORD)
    page.goto(f"{live_server}/shortlists/{run_id}")
    assert_accessible(page, "the run page with its evidence bundle form")
    page.get_by_role("button", name="Build evidence bundle").click()
    expect(page.get_by_role("heading", name="Evidence bundle", exact=True)).to_be_visible()
    bundle_id = uuid.UUID(page.url.rsplit("/", 1)[1])
    assert bundle_jobs.build(database, Services.build(settings), tenant.id, bundle_id) == "ready"
    download_button = page.get_by_role("button", name="Download the bundle")
    expect(download_button).to_be_visible(timeout=15_000)
    assert_accessible(page, "the bundle page of a shortlist run")
    with page.expect_download() as started:
        download_button.click()
    saved = tmp_path / "shortlist.zip"
    started.value.save_as(saved)

    checked = subprocess.run(
        [sys.executable, "-m", "invigil", "--json", "bundle", "verify", str(saved)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(invigil.__file__).parents[1])},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = json.loads(checked.stdout)
    assert summary["ok"] and summary["kind"] == "shortlist" and summary["subject"] == str(run_id)
    assert summary["checks"]["ranking"] == "ok"
    assert summary["counts"]["entries"] == 7 and summary["counts"]["shortlisted"] == 3
