"""The results viewer and the shortlister each open an exam's results from
the exam's page, sort, filter, page forward and back, and download the view
as CSV: what they see is what the database holds, in the order they chose."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.delivery.factories import published_exam
from tests.results.rows import T0, sitting

PASSWORD = "lantern-meadow-copper-42"
ROWS = 30  # more than one page of 25


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings) -> tuple[str, uuid.UUID]:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        for role in ("results_viewer", "shortlister"):
            service.create_user(uow, email=f"{role}@results.test", roles=[role], password=PASSWORD)
    exam = published_exam(database, tenant.id, title="Results walk-through")
    for i in range(ROWS):
        sitting(
            database,
            tenant.id,
            exam,
            name=f"Person {i:02d}",
            results=[{"awarded": i % 11, "passed": i % 11 >= 5}],
            submitted=T0 + timedelta(minutes=i),
        )
    return tenant.slug, exam


def names(page: Page) -> list[str]:
    return page.locator("#results-table tbody th").all_inner_texts()


@pytest.mark.parametrize("role", ["results_viewer", "shortlister"])
def test_open_sort_filter_page_and_export(
    page: Page, live_server: str, org: tuple[str, uuid.UUID], role: str, tmp_path: Path
) -> None:
    slug, exam = org
    sign_in(page, live_server, slug, f"{role}@results.test", PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/authoring/exams/{exam}")
    page.get_by_role("link", name="Results", exact=True).click()
    expect(page.get_by_role("heading", name="Results: Results walk-through")).to_be_visible()
    assert_accessible(page, f"results page as {role}")

    # Newest submission first by default: Person 29 leads; 25 rows, then 5.
    assert names(page)[0] == "Person 29" and len(names(page)) == 25
    page.get_by_role("link", name="Next").click()
    assert names(page) == [f"Person {i:02d}" for i in range(4, -1, -1)]
    page.get_by_role("link", name="Previous").click()
    assert len(names(page)) == 25 and names(page)[0] == "Person 29"

    # Sort by candidate, ascending then descending.
    page.get_by_role("link", name="Candidate", exact=True).click()
    expect(page).to_have_url(f"{live_server}/exams/{exam}/results?sort=candidate")
    assert names(page)[:2] == ["Person 00", "Person 01"]
    page.get_by_role("link", name="Candidate", exact=True).click()
    assert names(page)[0] == "Person 29"

    # Only those who passed (score 5 of 10 or more).
    page.get_by_label("Pass", exact=True).select_option("passed")
    page.get_by_role("button", name="Search").click()
    passed = sorted((f"Person {i:02d}" for i in range(ROWS) if i % 11 >= 5), reverse=True)
    assert names(page) == passed

    with page.expect_download() as made:
        page.get_by_role("link", name="CSV").click()
    saved = tmp_path / "results.csv"
    made.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert [r["candidate_name"] for r in rows] == passed
    assert {r["passed"] for r in rows} == {"true"}
