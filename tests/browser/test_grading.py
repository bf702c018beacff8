"""Grading in the browser, as people do it: a grader opens the queue and
marks an essay against its rubric without ever seeing the candidate's name
(blind grading); a second grader marks the same essay much lower; a
moderator finds it awaiting moderation, sees both marks and decides; the
attempt's result is issued again with the decided score."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.models import AttemptResult
from invigil.settings import Settings
from tests.conftest import PASSWORD, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted

NAME = "Cand Idate"  # the factories' candidate name


def _sign_in(page: Page, base: str, tenant: str, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/signin")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def _open_essay(page: Page, base: str) -> None:
    page.get_by_role("link", name="Grading", exact=True).click()
    expect(page.get_by_role("heading", name="Grading", exact=True)).to_be_visible()
    table = page.get_by_role("table")
    expect(table).to_contain_text("Essay")
    expect(page.locator("main")).not_to_contain_text(NAME)
    table.get_by_role("row").filter(has_text="Essay").get_by_role("link").first.click()


def test_graders_mark_blind_a_moderator_decides_and_the_result_is_issued_again(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)
    exam = graded_exam(
        database, tenant.id, manual_credit=False, double_marking=True, marking_tolerance_percent=10
    )
    attempt = submitted(database, tenant.id, kit_for(settings), exam)
    ann = make_user(database, tenant.id, ["grader"])
    bob = make_user(database, tenant.id, ["grader"])
    mod = make_user(database, tenant.id, ["moderator"])

    # The first grader: blind, marks 10 of 10.
    _sign_in(page, live_server, tenant.slug, ann.email)
    _open_essay(page, live_server)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Candidate ")
    expect(page.locator("main")).not_to_contain_text(NAME)
    expect(page.locator("main")).to_contain_text("Remote work widens the pool")
    page.get_by_role("group", name="Argument: structure").get_by_label("Strong = clear").check()
    page.get_by_role("group", name="Language").get_by_label("Excellent").check()
    expect(page.locator("output[data-rubric-total]")).to_have_text("10")
    page.get_by_label("Comment").first.fill("Clear and well argued.")
    page.get_by_role("button", name="Save mark").click()
    expect(page.get_by_text("Mark recorded.")).to_be_visible()

    # The second grader sees one hidden mark, not its points, and marks 2.
    _sign_in(page, live_server, tenant.slug, bob.email)
    _open_essay(page, live_server)
    expect(page.get_by_text("1 mark by another grader is hidden")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Clear and well argued.")
    page.get_by_role("group", name="Argument: structure").get_by_label("Weak").check()
    page.get_by_role("group", name="Language").get_by_label("Good").check()
    page.get_by_role("button", name="Save mark").click()
    expect(page.get_by_text("Mark recorded.")).to_be_visible()

    # The moderator finds it, reads both marks, decides 7 with a reason.
    _sign_in(page, live_server, tenant.slug, mod.email)
    page.goto(f"{live_server}/grading/moderation")
    expect(page.locator("main")).not_to_contain_text(NAME)
    page.get_by_role("table").get_by_role("link", name=re.compile("^Candidate ")).click()
    expect(page.locator("main")).to_contain_text("Clear and well argued.")
    expect(page.get_by_text("10 of 10 points")).to_be_visible()
    expect(page.get_by_text("2 of 10 points")).to_be_visible()
    page.get_by_label("Final points (0 to 10)").fill("7")
    page.get_by_label("Reason").fill("The argument holds; the language is plain.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded. The result is issued again.")).to_be_visible()

    with database.unit_of_work(tenant.id) as uow:
        latest = uow.scalar(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == uuid.UUID(str(attempt)))
            .order_by(AttemptResult.revision.desc())
            .limit(1)
        )
    assert latest is not None and latest.revision == 2 and not latest.needs_grading
    assert latest.document["questions"][1]["awarded"] == "7.00"
    # The short answer matched nothing and scores 0 (no manual credit here); the
    # single choice was right: 1 + 7 + 0.
    assert latest.document["awarded"] == "8.00"
