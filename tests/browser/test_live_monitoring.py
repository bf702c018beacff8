"""Live monitoring end to end, two browsers on one server: a candidate
whose (fake) camera shows two faces sits a strict exam; a proctor's console
shows the new flag within 2 seconds of the server taking it; the proctor
sends a message, which the candidate reads (the console shows the receipt),
and adds time, which the candidate's timer shows."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from invigil import demo
from invigil.db import platform
from invigil.db.engine import Database
from invigil.proctoring.models import ProctoringAction
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import media, staff_pages
from tests.browser import proctoring as pr
from tests.browser.test_admin import sign_in
from tests.delivery.factories import kit_for

NAME = "Marie Twofaces"
MESSAGE = "Only you may be in view of the camera, please."
TIMER = re.compile(r"^(\d+):(\d\d)$")


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    """The demo tenant (its administrator holds proctor:live)."""
    staff_pages.seed_demo(database, settings.regions, kit_for(settings))
    ref = platform.tenant_by_slug(database, staff_pages.DEMO_TENANT)
    assert ref is not None
    return c.Org(ref.id, database, kit_for(settings), live_server)


@pytest.fixture
def two_faces(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    folder = tmp_path_factory.mktemp("two-faces")
    video = media.write_y4m(folder / "two-faces.y4m", media.two_faces())
    audio = media.write_silence(folder / "silence.wav")
    launched = pr.launch(browser, video, audio)
    try:
        with pr.context_of(launched) as context:
            yield context.new_page()
    finally:
        launched.close()


@pytest.fixture
def console(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _minutes_left(page: Page) -> float:
    found = TIMER.match((page.get_by_role("timer").text_content() or "").strip())
    assert found, page.get_by_role("timer").text_content()
    return int(found.group(1)) + int(found.group(2)) / 60


def test_a_second_face_reaches_the_console_within_two_seconds_and_the_proctor_steps_in(
    two_faces: Page, console: Page, org: c.Org, live_server: str
) -> None:
    exam = org.exam(proctoring_preset="strict", time_limit_minutes=30)
    sign_in(
        console, live_server, staff_pages.DEMO_TENANT, staff_pages.DEMO_ADMIN, demo.DEFAULT_PASSWORD
    )
    console.goto(f"{live_server}/proctoring/live?exam={exam}")
    expect(console.locator("#live-state")).to_have_text("Live")

    c.start(two_faces, org.link(exam, name=NAME))
    two_faces.get_by_role("button", name="Share screen").click()
    two_faces.get_by_role("button", name="Enter fullscreen").click()
    expect(
        two_faces.get_by_role("heading", name=re.compile(r"^Question 1 of \d+$"))
    ).to_be_visible()
    attempt_id = uuid.UUID(c.boot(two_faces)["attempt_id"])

    tile = console.locator("#live-tiles > li").filter(
        has=console.get_by_role("heading", name=re.compile(re.escape(NAME)))
    )
    expect(tile).to_have_count(1, timeout=15_000)
    flags = tile.locator(".tile-flags")
    # The browser's detector sees two faces; the policy flags it (face-multiple-flag).
    console.wait_for_function(
        "(el) => /^[1-9]\\d* flags?/.test(el.textContent)",
        arg=flags.element_handle(),
        timeout=60_000,
        polling=50,
    )
    shown = datetime.now(UTC)
    with org.database.unit_of_work(org.tenant_id) as uow:
        taken = uow.scalar(
            select(ProctoringAction.created_at)
            .where(ProctoringAction.attempt_id == attempt_id, ProctoringAction.action == "flag")
            .order_by(ProctoringAction.created_at)
            .limit(1)
        )
    assert taken is not None
    lag = (shown - taken).total_seconds()
    assert lag < 2.0, f"the console showed the flag {lag:.2f}s after the server took it"
    expect(tile.locator(".tile-actions")).to_contain_text("face-multiple-flag")

    # A message: shown to the candidate, read, and the receipt on the console.
    tile.get_by_role("button", name=f"Message: {NAME}").click()
    dialog = console.get_by_role("dialog", name="Send a message")
    dialog.get_by_label("Message to the candidate").fill(MESSAGE)
    sent = time.monotonic()
    dialog.get_by_role("button", name="Send the message").click()
    box = two_faces.get_by_role("alertdialog", name="Message from the proctor")
    expect(box).to_be_visible(timeout=5_000)
    assert time.monotonic() - sent < 5.0
    expect(box).to_contain_text(MESSAGE)
    box.get_by_role("button", name="OK, I have read it").click()
    receipt = tile.locator(".tile-messages li").filter(has_text=MESSAGE)
    expect(receipt.locator(".badge.read")).to_be_visible(timeout=5_000)

    # Ten more minutes: the candidate's timer shows them.
    before = _minutes_left(two_faces)
    tile.get_by_role("button", name=f"Add time: {NAME}").click()
    dialog = console.get_by_role("dialog", name="Add time")
    dialog.get_by_label("Minutes to add").fill("10")
    dialog.get_by_label("Reason for the extra time").fill("A second person entered; checked.")
    dialog.get_by_role("button", name="Add the time").click()
    expect(dialog).to_be_hidden()
    deadline = time.monotonic() + 5
    while _minutes_left(two_faces) < before + 9 and time.monotonic() < deadline:
        two_faces.wait_for_timeout(100)
    assert _minutes_left(two_faces) >= before + 9, "the candidate's timer did not follow"
