"""What the page itself observes (tab switches, focus, full screen, developer
tools, copy and paste) and what each policy does about it: a warning banner
naming the rule under standard and strict, an automatic submit under strict
when developer tools open, nothing but a log under practice."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.browser import candidate as c
from tests.browser import media
from tests.browser import proctoring as pr
from tests.browser.axe import assert_accessible
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

CLIPBOARD = {"clipboard.copy", "clipboard.paste", "context_menu"}


@pytest.fixture(scope="module")
def setting(database: Database, settings: Settings, live_server: str) -> tuple[c.Org, pr.Staff]:
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    return org, pr.Staff.sign_in(database, tenant, live_server)


@pytest.fixture(scope="module")
def devices(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One face in view, a silent room: nothing here comes from the camera or microphone."""
    folder = tmp_path_factory.mktemp("signals-media")
    video = media.write_y4m(folder / "one-face.y4m", media.one_face())
    audio = media.write_silence(folder / "silence.wav")
    launched = pr.launch(browser, video, audio)
    try:
        yield launched
    finally:
        launched.close()


def _episode(items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(i for i in items if i["kind"] == kind)


def _ended(kind: str) -> Callable[[list[dict[str, Any]]], bool]:
    return pr.has(kind, ended=True)


def _action(rule: str, action: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda items: (rule, action) in {(a["rule_id"], a["action"]) for a in items}


def _refocus(page: Page, other: Page) -> None:
    other.close()
    page.bring_to_front()


def test_strict_warns_on_each_signal_and_submits_when_developer_tools_open(
    devices: Browser, setting: tuple[c.Org, pr.Staff]
) -> None:
    org, staff = setting
    with pr.context_of(devices) as context:
        page = context.new_page()
        problems = c.watch(page)
        c.start(page, org.link(org.exam(proctoring_preset="strict")))
        # The check shows the camera picture while it waits for the screen to be shared.
        expect(page.get_by_label("Your camera picture")).to_be_visible()
        assert_accessible(page, "the system check with the camera preview")
        page.screenshot(path="/tmp/invigil-proctoring-check.png")
        attempt = pr.take_strict(page, "")

        # A tab switch: hidden, then back.
        pr.hide_tab(page)
        expect(pr.warning(page, "tab-hidden-warn")).to_be_visible()
        expect(pr.warning(page, "tab-hidden-warn")).to_contain_text(
            "Stay on the exam tab until you submit."
        )
        pr.show_tab(page)
        staff.wait_for(attempt, _ended("tab.hidden"))

        # The banner can be dismissed (and says which rule it applies).
        dismiss = page.get_by_role("button", name="Dismiss this warning")
        dismiss.click()
        expect(page.locator(".proctor-warning")).to_have_count(0)

        # Leaving full screen: an episode, a warning, the exam covered until back.
        page.evaluate("() => document.exitFullscreen()")
        expect(page.get_by_role("heading", name="Return to full screen")).to_be_visible()
        expect(pr.warning(page, "fullscreen-exit-warn")).to_be_visible()
        page.get_by_role("button", name="Enter fullscreen").click()
        c.heading(page, 1, 8)
        events = staff.wait_for(attempt, _ended("fullscreen.exit"))
        assert _episode(events, "fullscreen.exit")["duration_seconds"] > 0

        # Another window in front: focus.lost, for real (focus emulation off).
        other = pr.blur_window(page)
        expect(pr.warning(page, "focus-lost-warn")).to_be_visible()
        _refocus(page, other)
        staff.wait_for(attempt, _ended("focus.lost"))
        if page.get_by_role("button", name="Enter fullscreen").is_visible():
            page.get_by_role("button", name="Enter fullscreen").click()

        assert org.attempt(attempt).status == "in_progress"

        # F12: refused by the page, reported; strict ends the attempt at once.
        page.keyboard.press("F12")
        expect(page).to_have_url(re.compile(r"/done$"), timeout=15_000)
        done = org.attempt(attempt)
        assert done.status == "submitted"
        assert done.submit_reason == "proctoring"
        events = staff.events(attempt)
        devtools = _episode(events, "devtools.open")
        assert devtools["details"]["techniques"] == ["shortcut"]
        assert devtools["details"]["keys"] == "F12"
        assert devtools["severity"] == "critical"
        actions = {(a["rule_id"], a["action"]) for a in staff.actions(attempt)}
        assert {
            ("tab-hidden-warn", "warn"),
            ("fullscreen-exit-warn", "warn"),
            ("focus-lost-warn", "warn"),
            ("devtools-submit", "auto_submit"),
        } <= actions
        assert problems == []


def test_standard_flags_developer_tools_found_by_a_debugger_and_logs_copy_and_paste(
    devices: Browser, setting: tuple[c.Org, pr.Staff]
) -> None:
    org, staff = setting
    with pr.context_of(devices) as context:
        page = context.new_page()
        attempt = pr.take(page, org.link(org.exam(proctoring_preset="standard")))
        paper = c.paper(page)

        # Ctrl+Shift+I: reported with its keys; standard flags, the exam goes on.
        page.keyboard.press("Control+Shift+KeyI")
        events = staff.wait_for(attempt, _ended("devtools.open"))
        assert _episode(events, "devtools.open")["details"]["keys"] == "Ctrl+Shift+I"
        staff.wait_for(attempt, _action("devtools-flag", "flag"), what="actions")
        assert org.attempt(attempt).integrity == "flagged"

        # A debugger attaches (as open developer tools do): the probe stops until it goes.
        cdp = context.new_cdp_session(page)
        paused: list[float] = []
        cdp.on("Debugger.paused", lambda _: paused.append(time.monotonic()))
        cdp.send("Debugger.enable")
        while not paused:
            page.wait_for_timeout(50)  # the page's own timers run on; this waits here
        page.wait_for_timeout(1000)
        cdp.send("Debugger.disable")  # the tools close: the page runs again
        events = staff.wait_for(
            attempt,
            lambda items: any("debugger" in i["details"].get("techniques", []) for i in items),
        )
        probe = next(i for i in events if "debugger" in i["details"].get("techniques", []))
        assert probe["details"]["paused_ms"] >= 900

        # Copy the question, paste into the answer: both reported, the paste refused.
        short = next(q["index"] for q in paper if q["type"] == "short_text")
        for _ in range(short):
            page.get_by_role("button", name="Next", exact=True).click()
        c.heading(page, short + 1, len(paper))
        # (Granting replaces the context's permissions: the camera's goes in again, else
        # its track ends, which is camera.stopped - see the next test.)
        context.grant_permissions(["clipboard-read", "clipboard-write", "camera", "microphone"])
        page.evaluate("() => navigator.clipboard.writeText('Berlin')")
        field = page.get_by_label("Your answer")
        field.click()
        page.keyboard.press("Control+V")
        expect(page.locator("#proctor-notices")).to_contain_text("Pasting is turned off")
        expect(field).to_have_value("")
        page.locator("legend.prompt").first.select_text()
        page.keyboard.press("Control+C")
        page.locator("legend.prompt").first.click(button="right")
        events = staff.wait_for(
            attempt,
            lambda items: set(pr.kinds(items)) >= CLIPBOARD,
        )
        paste = _episode(events, "clipboard.paste")
        assert paste["details"] == dict(question=short, field=True, via="paste", blocked=True)
        assert _episode(events, "clipboard.copy")["details"]["question"] == short
        assert "Berlin" not in str(events)  # never the clipboard's content
        assert org.attempt(attempt).status == "in_progress"
        expect(page.locator(".proctor-warning")).to_have_count(0)  # flag and log: no banner


def test_a_camera_that_stops_is_reported_and_can_be_turned_on_again(
    devices: Browser, setting: tuple[c.Org, pr.Staff]
) -> None:
    org, staff = setting
    with pr.context_of(devices) as context:
        page = context.new_page()
        attempt = pr.take(page, org.link(org.exam(proctoring_preset="standard")))
        # The camera's permission is withdrawn (only the microphone keeps one): its track ends.
        context.grant_permissions(["microphone"])
        expect(pr.warning(page, "camera-stopped-warn")).to_be_visible()
        notice = page.locator("#proctor-notices")
        expect(notice).to_contain_text("Your camera stopped.")
        assert_accessible(page, "the player asking to turn the camera on")
        page.screenshot(path="/tmp/invigil-proctoring-camera.png")
        context.grant_permissions(["camera", "microphone"])
        notice.get_by_role("button", name="Turn camera on").click()
        expect(notice).to_be_empty()
        events = staff.wait_for(attempt, _ended("camera.stopped"))
        stopped = _episode(events, "camera.stopped")
        assert stopped["details"]["reason"] == "restarted"
        assert stopped["severity"] == "medium"
        # The face check goes on with the new camera: one face, nothing else recorded.
        status = page.locator("#proctor-status")
        checks = int(status.get_attribute("data-face-checks") or 0)
        expect(status).not_to_have_attribute("data-face-checks", str(checks), timeout=15_000)
        assert set(pr.kinds(staff.events(attempt))) == {"camera.stopped"}


def test_standard_warns_when_the_tab_is_hidden(
    devices: Browser, setting: tuple[c.Org, pr.Staff]
) -> None:
    org, staff = setting
    with pr.context_of(devices) as context:
        page = context.new_page()
        attempt = pr.take(page, org.link(org.exam(proctoring_preset="standard")))
        pr.hide_tab(page)
        pr.show_tab(page)
        expect(pr.warning(page, "tab-hidden-warn")).to_be_visible()
        assert_accessible(page, "the player with a proctoring warning")
        page.screenshot(path="/tmp/invigil-proctoring-warning.png")
        page.set_viewport_size({"width": 390, "height": 844})
        assert_accessible(page, "the player with a proctoring warning on a narrow screen")
        page.screenshot(path="/tmp/invigil-proctoring-warning-narrow.png")
        staff.wait_for(attempt, _ended("tab.hidden"))
        actions = staff.actions(attempt)
        assert [(a["rule_id"], a["action"]) for a in actions] == [("tab-hidden-warn", "warn")]
        assert org.attempt(attempt).integrity == "clear"


def test_practice_only_logs(page: Page, setting: tuple[c.Org, pr.Staff]) -> None:
    org, staff = setting
    problems = c.watch(page)
    attempt = pr.take(page, org.link(org.exam(proctoring_preset="practice")))
    pr.hide_tab(page)
    pr.show_tab(page)
    other = pr.blur_window(page)
    staff.wait_for(attempt, pr.has("focus.lost"))
    _refocus(page, other)
    page.keyboard.press("F12")  # practice watches no developer tools
    events = staff.wait_for(attempt, lambda i: {"tab.hidden", "focus.lost"} <= set(pr.kinds(i)))
    time.sleep(1)
    assert set(pr.kinds(staff.events(attempt))) == {"tab.hidden", "focus.lost"}
    assert {e["severity"] for e in events} == {"low"}
    assert {a["action"] for a in staff.actions(attempt)} == {"log"}
    expect(page.locator(".proctor-warning")).to_have_count(0)
    expect(page.locator("#proctor-status")).to_have_text("Proctored: browser activity")
    assert org.attempt(attempt).status == "in_progress"
    assert org.attempt(attempt).integrity == "clear"
    assert problems == []


def test_a_face_model_that_cannot_load_is_a_detector_failure_not_a_violation(
    devices: Browser, setting: tuple[c.Org, pr.Staff]
) -> None:
    org, staff = setting
    with pr.context_of(devices) as context:
        context.route("**/vendor/face-api/model/**", lambda route: route.abort())
        page = context.new_page()
        page.clock.install()  # the retry timer runs when the test says
        attempt = pr.take(page, org.link(org.exam(proctoring_preset="standard")))
        expect(page.locator("#proctor-notices")).to_contain_text("The face check could not start.")
        events = staff.wait_for(attempt, pr.has("detector.failed"))
        failed = _episode(events, "detector.failed")
        assert failed["details"]["detector"] == "face"
        assert failed["details"]["reason"] == "model_load_failed"
        assert {a["action"] for a in staff.actions(attempt)} <= {"log", "warn"}
        assert org.attempt(attempt).integrity == "clear"

        # The model is reachable again: the next try loads it, the failure ends.
        context.unroute("**/vendor/face-api/model/**")
        page.clock.run_for(25_000)
        expect(page.locator("#proctor-notices")).to_be_empty()
        events = staff.wait_for(attempt, _ended("detector.failed"), page=page)
        assert _episode(events, "detector.failed")["end_seq"] is not None


def test_a_german_candidate_reads_a_built_in_warning_in_german(
    devices: Browser, database: Database, settings: Settings, live_server: str
) -> None:
    """The server sends the rule's message as written; the player shows the
    built-in warning from its catalog, in the candidate's language."""
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de"], None)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    with pr.context_of(devices) as context:
        page = context.new_page()
        page.goto(org.link(org.exam(proctoring_preset="standard"), language="de"))
        page.get_by_label("Ich stimme zu").check()
        page.get_by_role("button", name="Prüfung starten").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Frage 1 von \d+$"))).to_be_visible()
        pr.hide_tab(page)
        pr.show_tab(page)
        banner = pr.warning(page, "tab-hidden-warn")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Warnung:")
        expect(banner).to_contain_text("Bleiben Sie bis zur Abgabe im Prüfungs-Tab.")
        expect(banner).not_to_contain_text("Stay on the exam tab")
        expect(banner.get_by_role("button", name="Diese Warnung schließen")).to_be_visible()
