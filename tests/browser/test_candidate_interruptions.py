"""How the player behaves when the exam is interrupted: submitting while
offline, the server closing the attempt, and another browser taking over."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from invigil.db.engine import Database
from invigil.delivery import attempts
from invigil.delivery.models import Attempt
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def test_submitting_offline_waits_for_the_connection_and_loses_nothing(
    page: Page, org: c.Org
) -> None:
    c.start(page, org.link(org.exam()))
    paper = c.paper(page)
    attempt_id = c.boot(page)["attempt_id"]
    page.context.set_offline(True)
    c.answer(page, paper[0]["type"])
    page.get_by_role("button", name="Submit exam").click()
    dialog = page.get_by_role("dialog", name="Submit your exam?")
    expect(dialog).to_contain_text("You answered 1 of 8 questions.")
    expect(dialog).to_contain_text("Not answered: questions 2, 3, 4, 5, 6, 7 and 8.")
    dialog.get_by_role("button", name="Submit now").click()
    expect(dialog.get_by_role("status")).to_contain_text("You are offline.")
    expect(dialog.get_by_role("button", name="Keep working")).to_be_hidden()
    assert [q["index"] for q in c.queue(page)] == [0]
    assert org.attempt(attempt_id).status == "in_progress"

    page.context.set_offline(False)
    expect(page).to_have_url(re.compile(r"/done$"), timeout=15_000)
    assert org.attempt(attempt_id).status == "submitted"
    assert {i: a.response for i, a in org.answers(attempt_id).items()} == {0: c.expected(paper)[0]}


def test_an_attempt_the_server_closed_sends_the_player_to_the_confirmation(
    page: Page, org: c.Org
) -> None:
    """With the live stream blocked (a proxy that buffers it), the refused
    save is what tells the player."""
    page.route("**/api/live/stream", lambda route: route.abort())
    c.start(page, org.link(org.exam(time_limit_minutes=5, offline_grace_seconds=0)))
    paper = c.paper(page)
    attempt_id = c.boot(page)["attempt_id"]
    with org.database.unit_of_work(org.tenant_id) as uow:
        uow.get(Attempt, uuid.UUID(attempt_id)).deadline = datetime.now(UTC) - timedelta(seconds=1)
    assert attempts.close_due(org.database) >= 1
    c.answer(page, paper[0]["type"], leaving=True)  # the save is refused: the attempt is closed
    expect(page).to_have_url(re.compile(r"/done$"))
    expect(page.get_by_text("Your exam has been submitted.")).to_be_visible()


def test_an_attempt_the_server_closed_is_left_at_once_through_the_live_stream(
    page: Page, org: c.Org
) -> None:
    c.start(page, org.link(org.exam(time_limit_minutes=5, offline_grace_seconds=0)))
    attempt_id = c.boot(page)["attempt_id"]
    page.wait_for_timeout(500)  # the player's live stream is open
    with org.database.unit_of_work(org.tenant_id) as uow:
        uow.get(Attempt, uuid.UUID(attempt_id)).deadline = datetime.now(UTC) - timedelta(seconds=1)
    assert attempts.close_due(org.database) >= 1
    expect(page).to_have_url(re.compile(r"/done$"), timeout=5_000)  # without a click
    expect(page.get_by_text("Your exam has been submitted.")).to_be_visible()


def test_a_browser_that_lost_the_exam_to_another_says_so(
    page: Page, browser: Browser, org: c.Org
) -> None:
    link = org.link(org.exam())
    c.start(page, link)
    paper = c.paper(page)
    attempt_id = c.boot(page)["attempt_id"]
    with org.database.unit_of_work(org.tenant_id) as uow:
        attempts.release(uow, uow.get(Attempt, uuid.UUID(attempt_id)), "laptop crashed")
    other = browser.new_context()
    try:
        second = other.new_page()
        second.goto(link)
        second.get_by_role("button", name="Continue exam here").click()
        c.heading(second, 1, 8)
    finally:
        other.close()

    c.answer(page, paper[0]["type"])
    alert = page.get_by_role("alert").filter(has_text="This exam is open in another browser")
    expect(alert).to_be_visible()
    expect(page.get_by_role("heading", name="Question 1 of 8")).to_be_hidden()
    expect(page.get_by_role("button", name="Submit exam")).to_be_hidden()
    assert [q["index"] for q in c.queue(page)] == [0]  # kept on the device
