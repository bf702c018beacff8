"""The live console in Chromium, on the real event stream: the demo
administrator opens the console of an exam before anyone sits it; a
candidate starts it in another browser and the tile appears by itself, then
follows the candidate's answers, a flag (named in the polite live region)
and a webcam snapshot (its thumbnail through a signed link, two faces
marked). The proctor sends a message (the tile shows it "not read yet"),
adds time (the time left grows), pauses (the tile says "Paused" and its time
stands still) and ends the attempt (ended by a proctor, hidden by the
filter); an exam without the camera offers no room check. An update
arriving while a dialog is open neither closes it nor loses what was typed;
a refusal is shown in the dialog with the typed words kept. axe finds nothing serious at 1280 and 375 px, and at 375 px the tiles
stack in one column."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect

from invigil import demo
from invigil.db import platform, signals
from invigil.db.engine import Database
from invigil.evidence import service
from invigil.evidence.service import ATTEMPT, Evidence
from invigil.proctoring.models import Snapshot
from invigil.proctoring.presets import PRACTICE
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import proctoring as pr
from tests.browser import staff_pages
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.delivery.factories import kit_for

CANDIDATE = "Lena Livewatch"
MESSAGE = "Please keep your face in view of the camera."
LEFT = re.compile(r"^(?:(\d+):)?(\d+):(\d\d)")
HIDDEN = "The exam tab was hidden."


def _flagging() -> dict[str, Any]:
    """The practice policy, but a hidden tab is a flag at once."""
    policy: dict[str, Any] = PRACTICE.model_dump(mode="json")
    for rule in policy["rules"]:
        if rule["kind"] == "tab.hidden":
            rule.update(id="tab-hidden-flag", action="flag", severity="medium", message=HIDDEN)
    return policy


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    """The demo tenant (its administrator holds proctor:live)."""
    staff_pages.seed_demo(database, settings.regions, kit_for(settings))
    ref = platform.tenant_by_slug(database, staff_pages.DEMO_TENANT)
    assert ref is not None
    return c.Org(ref.id, database, kit_for(settings), live_server)


@pytest.fixture
def taker(browser: Browser) -> Iterator[Page]:
    """The candidate's own browser, apart from the proctor's."""
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


def _seconds_left(tile: Locator) -> int:
    text = tile.locator(".tile-left").inner_text()
    found = LEFT.match(text)
    assert found, f"no time left on the tile: {text!r}"
    h, m, s = found.groups()
    return int(h or 0) * 3600 + int(m) * 60 + int(s)


def _tile(page: Page, name: str) -> Locator:
    return page.locator("#live-tiles > li").filter(
        has=page.get_by_role("heading", name=re.compile(re.escape(name)))
    )


def _snapshot(org: c.Org, settings: Settings, attempt_id: str, faces: int) -> None:
    """A webcam snapshot of the attempt, stored where the capture API stores
    them, which the server's re-check found ``faces`` faces in."""
    image = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 160)).save(image, "JPEG")
    attempt = uuid.UUID(attempt_id)
    now = datetime.now(UTC)
    with org.database.unit_of_work(org.tenant_id) as uow:
        stored = service.store(
            uow,
            Evidence.from_settings(settings),
            subject_type=ATTEMPT,
            subject_id=attempt_id,
            kind_name="snapshot",
            data=[image.getvalue()],
        )
        uow.add(
            Snapshot(
                tenant_id=org.tenant_id,
                attempt_id=attempt,
                object_id=stored.id,
                taken_at=now,
                reason="periodic",
                client_faces=1,
                server_faces=faces,
                server_status="mismatch",
                checked_at=now,
            )
        )
        signals.attempt_changed(uow, attempt)


def _answer(taker: Page, number: int) -> None:
    """The candidate answers the question shown and goes on to the next."""
    paper = c.state(taker)["questions"]
    c.answer(taker, paper[number - 1]["type"])
    c.saved(taker)
    taker.get_by_role("button", name="Next", exact=True).click()


def test_a_proctor_watches_messages_adds_time_pauses_and_ends_an_attempt(
    page: Page, taker: Page, org: c.Org, settings: Settings, live_server: str
) -> None:
    exam = org.exam(time_limit_minutes=30, proctoring_policy=_flagging())
    sign_in(
        page, live_server, staff_pages.DEMO_TENANT, staff_pages.DEMO_ADMIN, demo.DEFAULT_PASSWORD
    )
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/proctoring/live?exam={exam}")
    expect(page.locator("#live-state")).to_have_text("Live")
    expect(page.locator("#live-empty")).to_have_text(re.compile("^No attempt is in progress"))

    # The candidate starts: the tile comes by the stream, the page is not reloaded.
    c.start(taker, org.link(exam, name=CANDIDATE))
    c.heading(taker, 1, 8)
    tile = _tile(page, CANDIDATE)
    expect(tile).to_have_count(1, timeout=15_000)
    expect(page.locator("#live-empty")).to_be_hidden()
    expect(page.locator("#live-counts")).to_have_text("1 in progress, 0 flagged, 0 offline")
    expect(tile.locator(".tile-progress-text")).to_have_text("0 of 8")
    assert 28 * 60 <= _seconds_left(tile) <= 30 * 60
    first = _seconds_left(tile)
    page.wait_for_timeout(2100)
    assert _seconds_left(tile) < first, "the time left counts down every second"
    _answer(taker, 1)
    expect(tile.locator(".tile-progress-text")).to_have_text("1 of 8", timeout=10_000)

    # A flag: on the tile with its rule and message, and said (politely) once.
    pr.hide_tab(taker)
    pr.show_tab(taker)
    expect(tile.locator(".tile-flags")).to_have_text("1 flag, 0 warnings", timeout=15_000)
    expect(tile.locator(".tile-actions")).to_contain_text(f"tab-hidden-flag {HIDDEN}")
    expect(page.locator("#live-announce")).to_have_text(f"New flag on {CANDIDATE}.")
    expect(page.locator("#live-announce")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#live-counts")).to_have_text("1 in progress, 1 flagged, 0 offline")

    # The latest snapshot, through its signed link, with the server's count marked.
    _snapshot(org, settings, c.boot(taker)["attempt_id"], faces=2)
    thumbnail = tile.get_by_role("img", name=re.compile(f"^Latest webcam snapshot of {CANDIDATE}"))
    expect(thumbnail).to_be_visible(timeout=15_000)
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 320", arg=thumbnail.element_handle()
    )
    expect(tile.locator(".badge.faces")).to_have_text("2 faces")
    expect(tile.locator(".badge.faces")).to_have_class(re.compile(r"\bwrong\b"))

    # A message. An update meanwhile neither closes the dialog nor loses the
    # words; a refusal is shown in the dialog, and the words stay to send again.
    def refuse(route: Route) -> None:
        body = {"type": "urn:invigil:problem:conflict", "title": "Conflict", "status": 409,
                "detail": "The candidate's connection is busy."}  # fmt: skip
        route.fulfill(status=409, body=json.dumps(body), content_type="application/problem+json")

    tile.get_by_role("button", name=f"Message: {CANDIDATE}").click()
    dialog = page.get_by_role("dialog", name="Send a message")
    expect(dialog).to_be_visible()
    box = dialog.get_by_label("Message to the candidate")
    expect(box).to_be_focused()
    box.fill(MESSAGE)
    _answer(taker, 2)
    expect(tile.locator(".tile-progress-text")).to_have_text("2 of 8", timeout=10_000)
    expect(dialog).to_be_visible()
    expect(box).to_have_value(MESSAGE)
    expect(box).to_be_focused()
    page.route("**/proctoring/live/attempts/*/messages", refuse)
    dialog.get_by_role("button", name="Send the message").click()
    expect(dialog.get_by_role("alert")).to_have_text("The candidate's connection is busy.")
    expect(box).to_have_value(MESSAGE)
    page.unroute("**/proctoring/live/attempts/*/messages", refuse)
    dialog.get_by_role("button", name="Send the message").click()
    expect(dialog).to_be_hidden()
    expect(tile.get_by_role("button", name=f"Message: {CANDIDATE}")).to_be_focused()
    message = tile.locator(".tile-messages li").filter(has_text=MESSAGE)
    expect(message).to_contain_text("not read yet")
    # This exam films no one: no room check is offered.
    expect(tile.get_by_role("button", name=f"Room check: {CANDIDATE}")).to_be_hidden()
    expect(tile.locator(".fact-room dd")).to_have_text(
        "not possible: the candidate did not consent to the camera"
    )

    # Ten more minutes.
    before = _seconds_left(tile)
    tile.get_by_role("button", name=f"Add time: {CANDIDATE}").click()
    dialog = page.get_by_role("dialog", name="Add time")
    dialog.get_by_label("Minutes to add").fill("10")
    dialog.get_by_label("Reason for the extra time").fill("The camera failed for ten minutes.")
    dialog.get_by_role("button", name="Add the time").click()
    expect(dialog).to_be_hidden()
    expect(tile.locator(".tile-left-note")).to_have_text("10 min added")
    assert _seconds_left(tile) >= before + 9 * 60

    # Paused: marked, and the time left stands still.
    tile.get_by_role("button", name=f"Pause: {CANDIDATE}").click()
    dialog = page.get_by_role("dialog", name="Pause the exam")
    dialog.get_by_label("Reason for the pause").fill("Someone entered the room.")
    dialog.get_by_role("button", name="Pause the exam").click()
    expect(dialog).to_be_hidden()
    expect(tile.locator(".tile-badges")).to_contain_text("Paused")
    expect(tile.locator(".tile-left")).to_contain_text("Paused")
    expect(tile.get_by_role("button", name=f"Resume: {CANDIDATE}")).to_be_focused()
    frozen = _seconds_left(tile)
    page.wait_for_timeout(2100)
    assert _seconds_left(tile) == frozen

    assert_accessible(page, "the live console")
    page.set_viewport_size({"width": 375, "height": 800})
    assert_accessible(page, "the live console at 375 px")
    widths = page.evaluate(
        "() => [document.scrollingElement.scrollWidth,"
        " getComputedStyle(document.getElementById('live-tiles')).gridTemplateColumns.split(' ').length]"
    )
    assert widths == [375, 1], f"page width, tile columns at 375 px: {widths}"
    page.set_viewport_size({"width": 1280, "height": 800})

    # Resumed, then ended: the tile stays, ended by a proctor.
    tile.get_by_role("button", name=f"Resume: {CANDIDATE}").click()
    page.get_by_role("dialog", name="Resume the exam").get_by_role(
        "button", name="Resume the exam"
    ).click()
    expect(tile.locator(".tile-badges")).not_to_contain_text("Paused")
    tile.get_by_role("button", name=f"End now: {CANDIDATE}").click()
    dialog = page.get_by_role("dialog", name="End the attempt now")
    dialog.get_by_label("Reason for ending it").fill("Confirmed cheating with a second person.")
    dialog.get_by_role("button", name="End the attempt").click()
    expect(dialog).to_be_visible()  # the confirmation is not ticked yet
    dialog.get_by_label("Yes, end this attempt now").check()
    dialog.get_by_role("button", name="End the attempt").click()
    expect(dialog).to_be_hidden()
    expect(tile.locator(".tile-badges")).to_have_text("Ended by a proctor")
    expect(page.locator("#live-counts")).to_have_text("0 in progress, 0 flagged, 0 offline")
    page.get_by_label("Show ended attempts").uncheck()
    expect(tile).to_be_hidden()
    expect(page.locator("#live-empty")).to_have_text("No attempt matches the filter.")
