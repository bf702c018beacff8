"""The candidate's whole journey in a real browser (issue #7: an exam player
that never loses an answer): consent, start, every question type, offline,
a reload that loses its requests, submit, and what the server stored."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

OFFLINE = "You are offline. Your answers are kept on this device"


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def _next(page: Page) -> None:
    page.get_by_role("button", name="Next", exact=True).click()


def _lose(route: Route) -> None:
    route.abort("internetdisconnected")


def test_every_answer_survives_offline_work_and_a_reload_that_loses_requests(
    page: Page, org: c.Org
) -> None:
    problems = c.watch(page)
    c.start(page, org.link(org.exam(time_limit_minutes=30)))
    c.heading(page, 1, 8)
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^(30:00|29:5\d)$"))
    attempt_id = c.boot(page)["attempt_id"]
    paper = c.paper(page)
    kinds = [q["type"] for q in paper]
    want = c.expected(paper)

    # Online: the first four questions, one of them flagged for review.
    for i in range(4):
        c.answer(page, kinds[i])
        if i == 2:
            page.get_by_role("button", name="Flag for review").click()
            expect(page.get_by_role("button", name="Flag for review")).to_have_attribute(
                "aria-pressed", "true"
            )
        _next(page)
    c.saved(page)
    assert set(org.answers(attempt_id)) == {0, 1, 2, 3}

    # Offline: the other four stay on the device, and the candidate is told.
    page.context.set_offline(True)
    for i in range(4, 8):
        c.heading(page, i + 1, 8)
        c.answer(page, kinds[i])
        if i < 7:
            _next(page)
    expect(page.get_by_role("status").filter(has_text=OFFLINE)).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("4 answers waiting to be sent")
    queued = c.queue(page)
    assert {q["index"]: q["response"] for q in queued} == {i: want[i] for i in range(4, 8)}
    assert all(q["offline"] for q in queued)

    # The connection returns, but every answers request is lost, even across a reload.
    page.route("**/api/answers", _lose)
    page.context.set_offline(False)
    page.reload()
    c.heading(page, 8, 8)  # back where the candidate was
    assert not {"4", "5", "6", "7"} & set(c.state(page)["answers"])
    # The screen shows the answers all the same: from the device's queue.
    q = c.question(page)
    for left, right in c.PAIRS.items():
        expect(q.get_by_label(left, exact=True)).to_have_value(
            str(paper[7]["body"]["right"].index(right))
        )
    palette = page.get_by_role("navigation", name="Questions")
    palette.get_by_role("button", name="Question 5, answered").click()
    expect(q.get_by_label("Your answer")).to_have_value(c.SHORT)
    palette.get_by_role("button", name="Question 3, answered, flagged").click()
    expect(q.get_by_label("True", exact=True)).to_be_checked()
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^4 answers waiting to be sent"))

    # The requests get through again: the queue drains by itself.
    page.unroute("**/api/answers", _lose)
    expect(page.locator("#save-status")).to_have_text("All answers saved", timeout=20_000)
    expect(page.get_by_role("status").filter(has_text=OFFLINE)).to_have_count(0)
    assert c.queue(page) == []
    stored = org.answers(attempt_id)
    assert {i: a.response for i, a in stored.items()} == want
    assert [i for i, a in stored.items() if a.flagged] == [2]
    assert all(a.seq > 0 for a in stored.values())
    assert sum(a.time_ms for a in stored.values()) > 0  # time on each question is tracked

    # Submit: the confirmation says what is flagged; the server closes the attempt.
    page.get_by_role("button", name="Submit exam").click()
    dialog = page.get_by_role("dialog", name="Submit your exam?")
    expect(dialog).to_contain_text("You answered 8 of 8 questions.")
    expect(dialog).to_contain_text("Flagged for review: question 3.")
    dialog.get_by_role("button", name="Submit now").click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/done$"))
    expect(page.get_by_text("Your exam has been submitted.")).to_be_visible()
    assert org.attempt(attempt_id).status == "submitted"
    assert {i: a.response for i, a in org.answers(attempt_id).items()} == want
    leftover = page.evaluate("() => Object.keys(localStorage).filter((k) => k.endsWith(':queue'))")
    assert leftover == []
    assert problems == []


def test_answers_given_offline_are_sent_by_themselves_when_the_connection_returns(
    page: Page, org: c.Org
) -> None:
    c.start(page, org.link(org.exam()))
    c.heading(page, 1, 8)
    expect(page.locator("#timer")).to_be_hidden()  # no time limit, no timer
    attempt_id = c.boot(page)["attempt_id"]
    paper = c.paper(page)
    want = c.expected(paper)

    page.context.set_offline(True)
    expect(page.get_by_role("status").filter(has_text=OFFLINE)).to_be_visible()
    c.answer(page, paper[0]["type"])
    _next(page)
    c.answer(page, paper[1]["type"])
    expect(page.locator("#save-status")).to_have_text("2 answers waiting to be sent")
    assert [q["index"] for q in c.queue(page)] == [0, 1]
    assert org.answers(attempt_id) == {}

    page.context.set_offline(False)
    c.saved(page)
    expect(page.get_by_role("status").filter(has_text=OFFLINE)).to_have_count(0)
    assert c.queue(page) == []
    assert {i: a.response for i, a in org.answers(attempt_id).items()} == {
        0: want[0],
        1: want[1],
    }


def test_linear_navigation_only_goes_forward(page: Page, org: c.Org) -> None:
    c.start(page, org.link(org.exam(navigation="linear")))
    c.heading(page, 1, 8)
    expect(page.get_by_role("navigation", name="Questions")).to_have_count(0)
    for n in range(2, 9):
        _next(page)
        c.heading(page, n, 8)
        expect(page.get_by_role("button", name="Previous")).to_have_count(0)
    expect(page.get_by_role("button", name="Next", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Submit exam")).to_have_count(1)
    page.reload()
    c.heading(page, 8, 8)
