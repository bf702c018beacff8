"""A proctor steps in while a candidate takes an exam in the player (a
Chromium with a fake camera): a message shown within 2 seconds and its
reading recorded, added time in the timer, a pause that locks the exam and
stops its clock until the resume, a room check recorded with the camera and
stored as a WebM clip, the end of the attempt. The proctor's steps are the
live service's, and the staff API's (``/api/v1/attempts/{id}/live/...``,
a proctor_reviewer's bearer token) for added time and to read the
acknowledgements back; the console's forms call the same service.

Also when the player's event stream is blocked: an answer given as the
pause begins is refused by the server and kept on the device, and the
heartbeat (every 20 s) brings the resume; the answer is saved then."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, Route, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.evidence.service import Evidence
from invigil.proctoring import live
from invigil.proctoring.models import LiveIntervention
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.browser import candidate as c
from tests.browser import evidence as ev
from tests.browser import media
from tests.browser import proctoring as pr
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

PROCTOR = Actor("user", str(uuid.uuid4()))
# A message, from the proctor's step to the dialog: two seconds is the aim; a
# test machine running two browser suites at once gets one more.
SHOWN_WITHIN_MS = 3000
AT_ONCE_MS = 5000  # the other steps: by the stream, not by the next heartbeat (20 s)
TIMER = re.compile(r"^(\d+):(\d\d)$")


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


@pytest.fixture(scope="module")
def staff(database: Database, org: c.Org, live_server: str) -> pr.Staff:
    with database.unit_of_work(org.tenant_id) as uow:
        tenant = uow.get(Tenant, org.tenant_id)
        uow.session.expunge(tenant)
    return pr.Staff.sign_in(database, tenant, live_server)


@pytest.fixture(scope="module")
def evidence(settings: Settings) -> Evidence:
    return Evidence.from_settings(settings)


@pytest.fixture(scope="module")
def camera_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("live-media")
    return (
        media.write_y4m(folder / "one-face.y4m", media.one_face()),
        media.write_silence(folder / "silence.wav"),
    )


@pytest.fixture
def page(browser: Browser, camera_files: tuple[Path, Path]) -> Iterator[Page]:
    """A page of a Chromium whose camera shows one face."""
    launched = pr.launch(browser, *camera_files)
    try:
        with pr.context_of(launched) as context:
            page = context.new_page()
            yield page
            # A route handler still busy with a request would hold the close up.
            page.unroute_all(behavior="ignoreErrors")
    finally:
        launched.close()


def _step(org: c.Org, action: Any, attempt_id: str, *args: Any) -> LiveIntervention:
    with org.database.unit_of_work(org.tenant_id, PROCTOR) as uow:
        row: LiveIntervention = action(uow, uuid.UUID(attempt_id), *args)
        uow.session.expunge(row)
        return row


def _interventions(org: c.Org, attempt_id: str, kind: str) -> list[LiveIntervention]:
    with org.database.unit_of_work(org.tenant_id) as uow:
        rows = uow.scalars(
            select(LiveIntervention)
            .where(
                LiveIntervention.attempt_id == uuid.UUID(attempt_id),
                LiveIntervention.kind == kind,
            )
            .order_by(LiveIntervention.created_at)
        )
        uow.session.expunge_all()
        return list(rows)


def _api(staff: pr.Staff, method: str, path: str, body: Any = None) -> Any:
    res = httpx.request(method, f"{staff.base}{path}", headers=staff.headers, json=body)
    assert res.is_success, res.text
    return res.json()


def _seconds(page: Page) -> int:
    text = page.get_by_role("timer").text_content() or ""
    m = TIMER.match(text.strip())
    assert m, text
    return int(m[1]) * 60 + int(m[2])


_LISTENING: list[bool] = []


def _take(page: Page, org: c.Org, **exam: Any) -> str:
    """Start a proctored exam with a time limit; once the player listens on its stream.
    The server's listener for the database's signals connects when the first
    stream of the process opens: a step in that moment would reach the player
    by a heartbeat only, so the first stream here gets a moment first."""
    streams: list[Response] = []
    page.on("response", lambda r: streams.append(r) if r.url.endswith("/api/live/stream") else None)
    link = org.link(org.exam(proctoring_preset="standard", time_limit_minutes=30, **exam))
    attempt = pr.take(page, link)
    ev.wait(lambda: [r for r in streams if r.ok], "the player's live stream", 10, page)
    if not _LISTENING:
        page.wait_for_timeout(2000)
        _LISTENING.append(True)
    return attempt


def test_a_message_shows_at_once_as_text_and_reading_it_is_recorded(
    page: Page, org: c.Org, staff: pr.Staff
) -> None:
    problems = c.watch(page)
    attempt = _take(page, org)
    heading = page.get_by_role("heading", name=re.compile(r"^Question 1 of \d+$"))
    heading.focus()
    words = "Please look at the camera. <b>Not bold</b> & keep working."
    sent = _step(org, live.send_message, attempt, words)
    box = page.get_by_role("alertdialog", name="Message from the proctor")
    expect(box).to_be_visible(timeout=SHOWN_WITHIN_MS)
    expect(box).to_contain_text(words)  # the text as written, not as HTML
    assert box.locator("b").count() == 0
    ok = box.get_by_role("button", name="OK, I have read it")
    expect(ok).to_be_focused()
    assert _interventions(org, attempt, "ack") == []
    # Two more at once: shown one after the other, oldest first.
    _step(org, live.send_message, attempt, "First of two.")
    _step(org, live.send_message, attempt, "Second of two.")
    ok.click()
    expect(box).to_contain_text("First of two.", timeout=SHOWN_WITHIN_MS)
    ok.click()
    expect(box).to_contain_text("Second of two.")
    ok.click()
    expect(box).to_be_hidden()
    expect(heading).to_be_focused()  # back where the candidate was
    acks = ev.wait(
        lambda: (found := _interventions(org, attempt, "ack")) and len(found) == 3 and found,
        "three acknowledgements",
        10,
        page,
    )
    assert sent.id in {a.refers_to for a in acks}  # each sent on its own: in any order
    # As staff read it: each message has its acknowledgement, by the candidate.
    steps = _api(staff, "GET", f"/api/v1/attempts/{attempt}/live/interventions")["items"]
    messages = [s["id"] for s in steps if s["kind"] == "message"]
    read = {s["refers_to"]: s for s in steps if s["kind"] == "ack"}
    assert len(messages) == 3 and set(read) == set(messages)
    assert all(a["actor"].startswith("candidate") for a in read.values()), read
    assert problems == []


def test_added_time_shows_in_the_timer_and_is_said_once(
    page: Page, org: c.Org, staff: pr.Staff
) -> None:
    attempt = _take(page, org)
    before = _seconds(page)
    assert 28 * 60 < before <= 30 * 60
    body = {"minutes": 10, "reason": "the laptop restarted"}
    _api(staff, "POST", f"/api/v1/attempts/{attempt}/live/time", body)
    note = page.locator("#proctor-notices")
    expect(note).to_contain_text("The proctor gave you 10 more minutes.", timeout=AT_ONCE_MS)
    # The timer follows at its next tick: 10 minutes more than it showed.
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^(39|40):\d\d$"))
    assert _seconds(page) > before + 9 * 60
    assert note.get_by_text("The proctor gave you").count() == 1
    page.wait_for_timeout(1500)
    assert note.get_by_text("The proctor gave you").count() == 1


def test_a_pause_locks_the_exam_and_stops_its_clock_until_the_resume(
    page: Page, org: c.Org
) -> None:
    problems = c.watch(page)
    attempt = _take(page, org)
    paper = c.paper(page)
    c.answer(page, paper[0]["type"])
    c.saved(page)
    _step(org, live.pause, attempt, "a noise in the room")
    overlay = page.get_by_role("alertdialog", name="Your exam is paused by the proctor")
    expect(overlay).to_be_visible(timeout=AT_ONCE_MS)
    expect(overlay).to_contain_text("The clock is stopped; wait here.")
    expect(page.locator("#exam")).to_have_attribute("inert", "")
    expect(page.locator("#timer")).to_have_class(re.compile(r"\bfrozen\b"))
    frozen = page.get_by_role("timer").text_content()
    page.wait_for_timeout(2500)
    assert page.get_by_role("timer").text_content() == frozen
    # A message while paused is on top, and can be read.
    _step(org, live.send_message, attempt, "Stay where you are.")
    box = page.get_by_role("alertdialog", name="Message from the proctor")
    expect(box).to_be_visible(timeout=SHOWN_WITHIN_MS)
    box.get_by_role("button", name="OK, I have read it").click()
    expect(box).to_be_hidden()
    expect(overlay).to_be_visible()

    _step(org, live.resume, attempt)
    expect(overlay).to_be_hidden(timeout=AT_ONCE_MS)
    expect(page.locator("#exam")).not_to_have_attribute("inert", "")
    expect(page.locator("#announcer")).to_have_text(
        "The proctor resumed your exam. The clock runs again."
    )
    # The clock goes on from where it stopped (the deadline moved by the pause).
    left = _seconds(page)
    stopped = TIMER.match(frozen or "")
    assert stopped
    assert abs(left - (int(stopped[1]) * 60 + int(stopped[2]))) <= 2
    # No time was added: nothing says so.
    expect(page.locator("#proctor-notices")).not_to_contain_text("more minute")
    page.get_by_role("button", name="Next", exact=True).click()
    c.answer(page, paper[1]["type"])
    c.saved(page)
    assert set(org.answers(attempt)) == {0, 1}
    assert problems == []


def test_with_the_stream_blocked_an_answer_refused_while_paused_waits_and_the_heartbeat_brings_the_resume(
    page: Page, org: c.Org
) -> None:
    page.route("**/api/live/stream", lambda route: route.abort("connectionrefused"))
    # Until the refusal is seen, heartbeats say nothing of the pause either:
    # the answer's 409 is how this player learns of it.
    quiet = {"on": True}

    def beat(route: Route) -> None:
        res = route.fetch()
        body = res.json()
        if quiet["on"]:
            body.pop("paused_at", None)
            body.pop("live_seq", None)
        route.fulfill(response=res, json=body)

    page.route("**/api/heartbeat", beat)
    link = org.link(org.exam(proctoring_preset="standard", time_limit_minutes=30))
    attempt = pr.take(page, link)
    paper = c.paper(page)
    refused: list[int] = []
    page.on(
        "response",
        lambda r: (
            refused.append(r.status) if r.url.endswith("/api/answers") and r.status == 409 else None
        ),
    )
    _step(org, live.pause, attempt, "someone came in")
    # An answer given after the pause began (the server takes those given before).
    page.wait_for_timeout(1000)
    c.answer(page, paper[0]["type"], leaving=True)
    overlay = page.get_by_role("alertdialog", name="Your exam is paused by the proctor")
    expect(overlay).to_be_visible(timeout=5000)
    expect(page.locator("#save-status")).to_have_text("1 answer waiting to be sent")
    assert refused, "the server took an answer while paused"
    assert [i["index"] for i in c.queue(page)] == [0]
    assert 0 not in org.answers(attempt)
    quiet["on"] = False

    _step(org, live.resume, attempt)
    # No stream: the next heartbeat (every 20 s) carries the resume.
    expect(overlay).to_be_hidden(timeout=25_000)
    c.saved(page)
    assert c.queue(page) == []
    assert org.answers(attempt)[0].response is not None


def test_a_room_check_records_the_camera_and_stores_a_webm_clip_then_the_proctor_ends_the_exam(
    page: Page, org: c.Org, evidence: Evidence
) -> None:
    problems = c.watch(page)
    attempt = _take(page, org)
    asked = _step(org, live.request_room_check, attempt, "a second screen was mentioned")
    room = page.get_by_role("dialog", name="Room check")
    expect(room).to_be_visible(timeout=AT_ONCE_MS)
    expect(room).to_contain_text("turn your camera slowly around the room, then back to you")
    start = room.get_by_role("button", name="Start the room check")
    expect(start).to_be_focused()
    began = time.monotonic()
    start.click()
    indicator = room.locator(".live-recording")
    expect(indicator).to_be_visible()
    expect(indicator).to_contain_text(re.compile(r"Recording 1\d seconds left"))
    expect(room).to_contain_text("The room check was sent. Thank you.", timeout=40_000)
    assert time.monotonic() - began >= 19
    clips = _interventions(org, attempt, "room_clip")
    assert len(clips) == 1 and clips[0].refers_to == asked.id
    stored = ev.objects(org, attempt, "room_check")
    assert [o.id for o in stored] == [clips[0].object_id]
    assert stored[0].content_type == "video/webm"
    assert ev.plaintext(org, evidence, stored[0]).startswith(ev.WEBM)
    room.get_by_role("button", name="Back to the exam").click()
    expect(room).to_be_hidden()

    _step(org, live.end, attempt, "the room check showed notes on the wall")
    expect(
        page.get_by_role("heading", name="Your exam has ended").or_(
            page.get_by_text("Your exam has been submitted.")
        )
    ).to_be_visible(timeout=AT_ONCE_MS)
    a = org.attempt(attempt)
    assert a.status == "submitted" and a.submit_reason == "proctor"
    assert problems == []
