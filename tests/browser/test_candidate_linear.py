"""The demo's strict exam ("no going back") in a Chromium with fake devices:
after Next and an immediate reload the player shows the question the server
holds, never an earlier one, and offers no way back."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from invigil.content.demo import seed_content
from invigil.content.models import Exam
from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.browser import candidate as c
from tests.browser import proctoring as pr
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_candidate_devices import FAKE_DEVICES
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

QUESTION = re.compile(r"^Question (\d+) of (\d+)$")


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    seed_content(database, tenant.id)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


@pytest.fixture(scope="module")
def devices_browser(browser: Browser) -> Iterator[Browser]:
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + FAKE_DEVICES
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def context(devices_browser: Browser) -> Iterator[BrowserContext]:
    context = devices_browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context
    finally:
        context.close()


def _strict_demo(org: c.Org) -> uuid.UUID:
    with org.database.unit_of_work(org.tenant_id) as uow:
        exam = uow.scalar(select(Exam).where(Exam.slug == "strict-demo"))
        assert exam is not None
        return exam.id


def _into_exam(page: Page, *, again: bool, org: c.Org | None = None) -> None:
    """Through the system check (camera, microphone, the screen) and full screen.
    The fake camera shows no face: the first time, the face is marked as seen."""
    if org is not None:
        pr.face_seen_anyway(org, page)
    if again:
        expect(
            page.get_by_role("heading", name="Checking again before you continue")
        ).to_be_visible()
    page.get_by_role("button", name="Share screen").click()
    page.get_by_role("button", name="Enter fullscreen").click()


# The page shows the question the server holds (a move sent just before the
# reload may land a moment after the page loaded: the player follows it).
SETTLED = """async (api) => {
  const s = await (await fetch(api + "/state", {cache: "no-store"})).json();
  const h = document.getElementById("question-h");
  return Boolean(h) && h.textContent === `Question ${s.position + 1} of ${s.questions.length}`;
}"""


def _settled(page: Page) -> None:
    page.wait_for_function(SETTLED, arg=c.boot(page)["api"], polling=250)


def _shown(page: Page) -> int:
    """The number of the question on the screen (from 1)."""
    heading = page.get_by_role("heading", name=QUESTION)
    expect(heading).to_be_visible()
    found = QUESTION.match(heading.inner_text().strip())
    assert found
    return int(found.group(1))


def test_next_then_a_quick_reload_never_goes_back(context: BrowserContext, org: c.Org) -> None:
    page = context.new_page()
    problems = c.watch(page)
    c.start(page, org.link(_strict_demo(org)))
    _into_exam(page, again=False, org=org)
    assert _shown(page) == 1
    attempt_id = c.boot(page)["attempt_id"]
    assert c.state(page)["navigation"] == "linear"
    expect(page.get_by_role("button", name="Previous")).to_have_count(0)

    page.get_by_role("button", name="Next", exact=True).click()
    page.reload()  # at once: the move may or may not have reached the server
    _into_exam(page, again=True)
    _settled(page)
    shown = _shown(page)
    held = org.attempt(attempt_id)
    assert shown == held.position + 1 and held.furthest == held.position  # the server's
    expect(page.get_by_role("button", name="Previous")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Questions")).to_have_count(0)

    # Next, and the move is kept: on the server before the next reload.
    page.get_by_role("button", name="Next", exact=True).click()
    expect(
        page.get_by_role("heading", name=f"Question {shown + 1} of ", exact=False)
    ).to_be_visible()
    _settled(page)
    page.reload()
    _into_exam(page, again=True)
    assert _shown(page) == shown + 1
    assert org.attempt(attempt_id).furthest == shown
    expect(page.get_by_role("button", name="Previous")).to_have_count(0)
    assert problems == []


# A change to question 1 queued on the device after the exam moved on (as a
# changed browser, or a lost race, would leave it).
STALE_EDIT = """([key, seq]) => {
  localStorage.setItem(key + ":queue", JSON.stringify([{index: 0, response: null, flagged: false,
    seq, time_ms: 0, client_time: new Date().toISOString(), offline: false}]));
  localStorage.setItem(key + ":seq", String(seq));
}"""


def test_a_queued_change_to_a_passed_question_is_dropped_and_said(page: Page, org: c.Org) -> None:
    c.start(page, org.link(org.exam(navigation="linear", proctoring_preset="practice")))
    paper = c.paper(page)
    attempt_id = c.boot(page)["attempt_id"]
    c.answer(page, paper[0]["type"])
    c.saved(page)
    page.get_by_role("button", name="Next", exact=True).click()
    _settled(page)
    kept = org.answers(attempt_id)[0]

    page.evaluate(STALE_EDIT, [c.boot(page)["storage_key"], kept.seq + 50])
    page.reload()
    alert = page.get_by_role("alert").filter(has_text="was not accepted")
    expect(alert).to_have_text(
        "Your answer to question 1 was not accepted: the exam has moved past this question"
    )
    c.saved(page)
    assert c.queue(page) == []
    assert _shown(page) == 2
    again = org.answers(attempt_id)[0]
    assert (again.response, again.seq) == (kept.response, kept.seq)  # unchanged


SETTLED_DE = SETTLED.replace("`Question ${s.position + 1} of", "`Frage ${s.position + 1} von")


def test_a_german_candidate_reads_the_servers_refusal_in_german(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    """The server refuses the change (409 navigation-closed, its detail in
    English); the player words the refusal's code in the candidate's language."""
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de"], None)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    exam = org.exam(navigation="linear", proctoring_preset="practice")
    page.goto(org.link(exam, language="de"))
    page.get_by_label("Ich stimme zu").check()
    page.get_by_role("button", name="Prüfung starten").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Frage 1 von \d+$"))).to_be_visible()
    first = c.state(page)["questions"][0]["type"]
    attempt_id = c.boot(page)["attempt_id"]
    c.answer(page, first)
    expect(page.locator("#save-status")).to_have_text("Alle Antworten gespeichert")
    page.get_by_role("button", name="Weiter", exact=True).click()
    page.wait_for_function(SETTLED_DE, arg=c.boot(page)["api"], polling=250)
    kept = org.answers(attempt_id)[0]

    page.evaluate(STALE_EDIT, [c.boot(page)["storage_key"], kept.seq + 50])
    page.reload()
    alert = page.get_by_role("alert").filter(has_text="wurde nicht angenommen")
    expect(alert).to_have_text(
        "Ihre Antwort auf Frage 1 wurde nicht angenommen: "
        "die Prüfung ist bereits über diese Frage hinaus"
    )
    expect(alert).not_to_contain_text("can no longer be changed")
    assert org.answers(attempt_id)[0].seq == kept.seq  # nothing was changed
