"""The system check and full screen, in a Chromium with fake camera,
microphone and screen (its own launch: the shared browser has no devices).
The camera plays a face (tests/browser/media.py): an exam that watches faces
begins only once the server has seen one."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import media
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, watch_csp
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

FAKE_DEVICES = [
    "--use-fake-ui-for-media-stream",  # no permission prompts
    "--use-fake-device-for-media-stream",  # a camera (the file below) and a beeping microphone
    "--auto-select-desktop-capture-source=Entire screen",
]

# The first camera request of the tab is refused, as when a person dismisses the prompt.
REFUSE_CAMERA_ONCE = """
(() => {
  if (!navigator.mediaDevices) return;
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) => {
    if (constraints && constraints.video && !sessionStorage.getItem("refused")) {
      sessionStorage.setItem("refused", "1");
      return Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
    }
    return real(constraints);
  };
})();
"""


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


@pytest.fixture(scope="module")
def devices_browser(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    face = media.write_y4m(tmp_path_factory.mktemp("camera") / "one-face.y4m", media.one_face())
    launched = watch_csp(
        browser.browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, *FAKE_DEVICES, f"--use-file-for-fake-video-capture={face}"],
        )
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


def _check(page: Page, name: str) -> Locator:
    return page.locator(".check-item").filter(has_text=f"{name}:")


def test_strict_exam_checks_every_device_and_shows_the_exam_only_in_full_screen(
    context: BrowserContext, org: c.Org
) -> None:
    context.add_init_script(REFUSE_CAMERA_ONCE)
    page = context.new_page()
    begins: list[Request] = []
    page.on("request", lambda r: begins.append(r) if r.url.endswith("/api/begin") else None)
    c.start(page, org.link(org.exam(proctoring_preset="strict")))

    # The camera was refused: the check says how to fix it; the others pass or wait.
    camera = _check(page, "Camera")
    expect(camera).to_contain_text("not ready")
    expect(camera).to_contain_text("Allow the camera in your browser's address bar")
    expect(_check(page, "Microphone")).to_contain_text("ready")
    expect(_check(page, "Browser")).to_contain_text("ready")
    expect(_check(page, "Screen sharing")).to_contain_text("waiting for you to share")
    expect(page.get_by_role("button", name="Enter fullscreen")).to_have_count(0)
    page.screenshot(path="/tmp/invigil-system-check.png")
    page.get_by_role("button", name="Check again").click()
    expect(camera).to_contain_text("ready")
    expect(camera).not_to_contain_text("not ready")
    page.get_by_role("button", name="Share screen").click()
    expect(_check(page, "Screen sharing")).to_contain_text("ready")
    assert begins == []  # the clock has not started

    page.get_by_role("button", name="Enter fullscreen").click()
    c.heading(page, 1, 8)
    assert page.evaluate("document.fullscreenElement === document.documentElement")
    assert len(begins) == 1

    # Leaving full screen covers the exam until the candidate returns.
    page.evaluate("document.exitFullscreen()")
    expect(page.get_by_role("heading", name="Return to full screen")).to_be_visible()
    expect(page.get_by_role("heading", name="Question 1 of 8")).to_be_hidden()
    page.get_by_role("button", name="Enter fullscreen").click()
    c.heading(page, 1, 8)

    # The server's warning about it offers the way back, in words, never the rule's id.
    banner = page.locator(".proctor-warning").filter(has_text="Return to full screen to continue")
    expect(banner).to_be_visible(timeout=20_000)
    expect(banner).not_to_contain_text("fullscreen-exit")
    expect(banner).not_to_contain_text("rule")
    expect(banner.get_by_role("button", name="Dismiss this warning")).to_be_visible()
    page.evaluate("document.exitFullscreen()")
    expect(page.get_by_role("heading", name="Question 1 of 8")).to_be_hidden()
    banner.first.get_by_role("button", name="Return to full screen").click()
    c.heading(page, 1, 8)
    assert page.evaluate("document.fullscreenElement === document.documentElement")

    # A reload checks again (screen sharing needs the candidate), never begins again.
    page.reload()
    expect(page.get_by_role("heading", name="Checking again before you continue")).to_be_visible()
    page.get_by_role("button", name="Share screen").click()
    expect(page.get_by_role("heading", name="Return to full screen")).to_be_visible()
    page.get_by_role("button", name="Enter fullscreen").click()
    c.heading(page, 1, 8)
    assert len(begins) == 1
    assert c.state(page)["status"] == "in_progress"
    expect(page).to_have_url(re.compile(r"/exam$"))
