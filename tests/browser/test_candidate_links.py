"""Link rules as a candidate meets them in a real browser: a revoked link, an
expired link, a second browser, and a deadline that passes with the browser
closed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery import attempts, invitations
from invigil.delivery.models import Attempt, AttemptResult, Invitation
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def _invitation_of(org: c.Org, attempt_id: str) -> uuid.UUID:
    return org.attempt(attempt_id).invitation_id


def test_a_revoked_link_stops_a_running_exam(page: Page, org: c.Org) -> None:
    c.start(page, org.link(org.exam()))
    attempt_id = c.boot(page)["attempt_id"]
    with org.database.unit_of_work(org.tenant_id) as uow:
        invitations.revoke(uow, _invitation_of(org, attempt_id))
    page.reload()
    expect(page.get_by_role("heading", name="This exam link does not work")).to_be_visible()
    expect(page.get_by_role("button", name="Start exam")).to_have_count(0)


def test_an_expired_link_says_so_and_offers_no_start(page: Page, org: c.Org) -> None:
    now = datetime.now(UTC)
    link = org.link(org.exam(), opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=1))
    response = page.goto(link)
    assert response is not None and response.status == 410
    expect(page.get_by_text("This exam link has expired.")).to_be_visible()
    expect(page.get_by_role("button", name="Start exam")).to_have_count(0)
    expect(page.get_by_label("I agree")).to_have_count(0)


def test_a_second_browser_is_told_the_exam_is_in_progress_elsewhere(
    page: Page, browser: Browser, org: c.Org
) -> None:
    link = org.link(org.exam())
    c.start(page, link)
    c.heading(page, 1, 8)
    other = browser.new_context()
    try:
        second = other.new_page()
        response = second.goto(link)
        assert response is not None and response.status == 409
        expect(
            second.get_by_role("heading", name="This exam is in progress in another browser")
        ).to_be_visible()
        expect(second.get_by_role("button", name="Start exam")).to_have_count(0)
        exam = second.goto(link + "/exam")  # straight to the player: sent back
        assert exam is not None and exam.status == 409 and second.url == link
    finally:
        other.close()
    # The first browser carries on untouched.
    page.reload()
    c.heading(page, 1, 8)


def test_the_deadline_closes_the_attempt_with_the_browser_gone(
    browser: Browser, org: c.Org
) -> None:
    link = org.link(org.exam(time_limit_minutes=5, offline_grace_seconds=0))
    context = browser.new_context()
    page = context.new_page()
    c.start(page, link)
    c.heading(page, 1, 8)
    c.answer(page, "single_choice")
    c.saved(page)
    attempt_id = c.boot(page)["attempt_id"]
    expected = c.expected(c.state(page)["questions"])[0]
    context.close()  # the candidate walks away

    with org.database.unit_of_work(org.tenant_id) as uow:
        uow.get(Attempt, uuid.UUID(attempt_id)).deadline = datetime.now(UTC) - timedelta(seconds=1)
    assert attempts.close_due(org.database) >= 1  # what the every-minute job runs

    attempt = org.attempt(attempt_id)
    assert attempt.status == "submitted" and attempt.submit_reason == "deadline"
    with org.database.unit_of_work(org.tenant_id) as uow:
        result = uow.scalar(select(AttemptResult).where(AttemptResult.attempt_id == attempt.id))
        invitation = uow.get(Invitation, attempt.invitation_id)
    assert result is not None
    first = result.document["questions"][0]
    assert first["response"] == expected and first["awarded"] == first["max"]

    # Coming back with the same link: the exam is over, nothing to start.
    again = browser.new_context()
    try:
        back = again.new_page()
        back.goto(link)
        expect(back.get_by_role("heading", name="You have taken this exam")).to_be_visible()
        expect(back.get_by_role("button", name="Start exam")).to_have_count(0)
    finally:
        again.close()
    assert invitation.status == "active"
