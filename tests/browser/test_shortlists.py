"""A shortlister writes a rule set, runs a shortlist for a position over a
cohort like the demo's (graded candidates, a few still being graded or
reviewed), reads why each is on the list or not, moves one to the next
stage, ticks two to compare, and downloads the list as CSV and XLSX: what
the page shows and the files hold is what the database recorded."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.identity import service as identity
from invigil.settings import Settings
from invigil.shortlists import service, stages
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.shortlists.factories import exam, sit

PASSWORD = "lantern-meadow-copper-42"
EMAIL = "shortlister@shortlists.test"


@dataclass
class Org:
    slug: str
    tenant_id: uuid.UUID
    graded: list[uuid.UUID]  # by percentage, highest first
    waiting: uuid.UUID
    flagged: uuid.UUID


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings) -> Org:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        identity.create_user(uow, email=EMAIL, roles=["shortlister"], password=PASSWORD)
    e = exam(database, tenant.id)
    graded = [
        sit(
            database,
            tenant.id,
            e,
            f"{95 - 5 * i}.00",
            categories={"Writing": f"{90 - 5 * i}"},
            minutes=20 + i,
        )
        for i in range(8)
    ]
    waiting = sit(database, tenant.id, e, "99.00", pending=True)
    flagged = sit(database, tenant.id, e, "98.00", integrity="flagged")
    with database.unit_of_work(tenant.id) as uow:
        service.save_position(uow, "Support engineer", "First-line support.", [e])
    return Org(tenant.slug, tenant.id, graded, waiting, flagged)


def test_a_shortlister_runs_a_shortlist_moves_a_candidate_and_downloads_it(
    page: Page, live_server: str, org: Org, database: Database, tmp_path: Path
) -> None:
    sign_in(page, live_server, org.slug, EMAIL, PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.get_by_role("link", name="Shortlists", exact=True).first.click()
    expect(page.get_by_role("heading", name="Shortlists")).to_be_visible()

    # A rule set, first with a mistake the server names.
    page.get_by_role("link", name="Rule sets").click()
    page.get_by_role("link", name="New rule set").click()
    page.get_by_label("Name", exact=True).fill("First round")
    page.get_by_label("Minimum percentage overall (0-100)").fill("lots")
    page.get_by_role("button", name="Save rule set").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page.get_by_label("Minimum percentage overall (0-100)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert_accessible(page, "rule set editor with an error")
    page.get_by_label("Minimum percentage overall (0-100)").fill("70")
    page.get_by_label("Keep the best N only").fill("5")
    page.get_by_label("Tie-breaks, one a line", exact=False).fill("category:Writing")
    page.get_by_role("button", name="Save rule set").click()
    expect(page.get_by_text("Rule set saved as version 1.")).to_be_visible()

    # Run it for the position.
    page.get_by_role("link", name="Run a shortlist").click()
    page.get_by_label("Rule set").select_option(label="First round (v1)")
    page.get_by_label("Position Support engineer (1 exams)").check()
    assert_accessible(page, "run a shortlist")
    page.get_by_role("button", name="Run the shortlist").click()
    expect(page.get_by_text("Shortlist ready.")).to_be_visible()
    expect(page.get_by_role("heading", name="Shortlist: First round, version 1")).to_be_visible()
    assert_accessible(page, "a shortlist run")
    run_id = uuid.UUID(page.url.rsplit("/", 1)[1])

    ranked = page.locator("#ranked tbody tr")
    expect(ranked).to_have_count(5)
    first = page.locator(f"#entry-{org.graded[0]}")
    expect(first).to_contain_text("95 % ≥ 70 %")
    expect(first).to_contain_text("rank 1 within the top 5")
    expect(page.locator(f"#entry-{org.graded[5]}")).to_contain_text(
        "would rank 6, beyond the top 5"
    )
    expect(page.locator(f"#entry-{org.waiting}")).to_contain_text(
        "not final yet (awaiting grading)"
    )
    expect(page.locator(f"#entry-{org.flagged}")).to_contain_text("awaiting integrity review")
    expect(page.locator(f"#entry-{org.graded[6]}")).to_contain_text("65 % below the 70 % required")
    assert "/proctoring/reviews/" not in page.content()

    # Move the first to interview, with a note.
    first.get_by_label("Next stage for", exact=False).select_option("interview")
    first.get_by_label("Note on", exact=False).fill("Call on Monday.")
    first.get_by_role("button", name="Move").click()
    expect(page.get_by_text("Stage changed.")).to_be_visible()
    expect(page.locator(f"#entry-{org.graded[0]} .stage")).to_have_text("interview")
    with database.unit_of_work(org.tenant_id) as uow:
        now = stages.current(uow, run_id)[org.graded[0]]
        assert (now.stage, now.note) == ("interview", "Call on Monday.")

    # The files.
    with page.expect_download() as made:
        page.get_by_role("link", name="CSV").click()
    saved = tmp_path / "shortlist.csv"
    made.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert [r["attempt_id"] for r in rows[:5]] == [str(a) for a in org.graded[:5]]
    assert rows[0]["stage"] == "interview" and rows[0]["rank"] == "1"
    failed = {r["attempt_id"]: r["failed_rule"] for r in rows[5:]}
    assert failed[str(org.waiting)] == "final" and failed[str(org.graded[5])] == "top_n"
    with page.expect_download() as made:
        page.get_by_role("link", name="Excel (XLSX)").click()
    book = tmp_path / "shortlist.xlsx"
    made.value.save_as(book)
    values = list(load_workbook(book, read_only=True)["Shortlist"].values)
    assert values[1][values[0].index("attempt_id")] == str(org.graded[0])
    assert len(values) == 1 + len(rows)

    # Compare two: the link the results domain answers.
    page.locator(f"#entry-{org.graded[0]} input[name=attempt]").check()
    page.locator(f"#entry-{org.graded[1]} input[name=attempt]").check()
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_url("**/results/compare**")
    assert page.url.endswith(f"/results/compare?attempt={org.graded[0]}&attempt={org.graded[1]}")
