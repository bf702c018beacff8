"""The camera and microphone detectors, in a Chromium whose fake camera and
microphone play files made by the suite (tests/browser/media.py): two faces,
no face, a dark room, speech, and a clean session of one face in silence.
One browser launch per pair of files (Chromium takes them at launch)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import media
from tests.browser import proctoring as pr
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

CLEAN_SECONDS = 60


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> media.Media:
    return media.build(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def setting(database: Database, settings: Settings, live_server: str) -> tuple[c.Org, pr.Staff]:
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    return org, pr.Staff.sign_in(database, tenant, live_server)


Launch = Callable[[Path, Path], Browser]


@pytest.fixture
def launched(browser: Browser) -> Iterator[Launch]:
    """Opens a Chromium with the given camera and microphone files; closes them after."""
    opened: list[Browser] = []

    def open_with(video: Path, audio: Path) -> Browser:
        b = pr.launch(browser, video, audio)
        opened.append(b)
        return b

    yield open_with
    for b in opened:
        b.close()


def test_two_faces_in_view_is_face_multiple_and_a_warning(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: media.Media
) -> None:
    org, staff = setting
    with pr.context_of(launched(files.two_faces, files.silence)) as context:
        page = context.new_page()
        problems = c.watch(page)
        attempt = pr.take_strict(page, org.link(org.exam(proctoring_preset="strict")))
        events = staff.wait_for(attempt, pr.has("face.multiple"), timeout=45)
        multiple = next(e for e in events if e["kind"] == "face.multiple")
        assert multiple["details"]["faces"] == 2
        assert multiple["details"]["detector"] == "tiny_face_detector"
        assert multiple["details"]["score"] >= 0.5
        assert "face.none" not in pr.kinds(events)
        expect(pr.warning(page, "face-multiple-warn")).to_be_visible()
        expect(pr.warning(page, "face-multiple-warn")).to_contain_text(
            "Only you should be in view of the camera."
        )
        assert problems == []


def test_no_face_in_view_is_face_none(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: media.Media
) -> None:
    org, staff = setting
    with pr.context_of(launched(files.no_face, files.silence)) as context:
        page = context.new_page()
        c.start(page, org.link(org.exam(proctoring_preset="strict")))
        pr.face_seen_anyway(org, page)
        attempt = pr.take_strict(page, "")
        events = staff.wait_for(attempt, pr.has("face.none"), timeout=45)
        none = next(e for e in events if e["kind"] == "face.none")
        assert none["details"]["faces"] == 0
        assert "face.multiple" not in pr.kinds(events)
        expect(pr.warning(page, "face-none-warn")).to_be_visible()


def test_a_dark_camera_is_a_detector_failure_with_advice_not_a_violation(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: media.Media
) -> None:
    org, staff = setting
    with pr.context_of(launched(files.dark, files.silence)) as context:
        page = context.new_page()
        c.start(page, org.link(org.exam(proctoring_preset="strict")))
        pr.face_seen_anyway(org, page)
        attempt = pr.take_strict(page, "")
        events = staff.wait_for(attempt, pr.has("detector.failed"), timeout=45)
        failed = next(e for e in events if e["kind"] == "detector.failed")
        assert failed["details"]["detector"] == "face"
        assert failed["details"]["reason"] == "too_dark"
        assert failed["severity"] in ("info", "low")
        # The candidate is told what to fix, calmly (a status note, not an alert).
        note = page.locator("#proctor-notices")
        expect(note).to_contain_text("Turn on a light or face a window.")
        time.sleep(4)  # longer than face_persist_seconds: a dark picture is never face.none
        assert set(pr.kinds(staff.events(attempt))) == {"detector.failed"}
        assert {a["action"] for a in staff.actions(attempt)} <= {"log", "warn"}
        assert org.attempt(attempt).integrity == "clear"


def test_speech_near_the_candidate_is_audio_voice(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: media.Media
) -> None:
    org, staff = setting
    with pr.context_of(launched(files.one_face, files.speech)) as context:
        page = context.new_page()
        attempt = pr.take_strict(page, org.link(org.exam(proctoring_preset="strict")))
        events = staff.wait_for(attempt, pr.has("audio.voice"), timeout=30)
        voice = next(e for e in events if e["kind"] == "audio.voice")
        assert voice["details"]["level"] > voice["details"]["threshold"] >= 0.02
        expect(pr.warning(page, "audio-voice-warn")).to_be_visible()
        assert not {"face.none", "face.multiple"} & set(pr.kinds(staff.events(attempt)))


def test_a_clean_session_of_a_minute_records_no_violation(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: media.Media
) -> None:
    """One face, silence, the candidate working: for at least 60 s of running
    detectors the server records no event at all (not even detector.failed),
    takes no action, and the attempt stays clear. The detectors did run: the
    page counted its face checks (each one face) and heard silence."""
    org, staff = setting
    with pr.context_of(launched(files.one_face, files.silence)) as context:
        page = context.new_page()
        problems = c.watch(page)
        link = org.link(org.exam(proctoring_preset="strict"))
        attempt = pr.take_strict(page, link)
        status = page.locator("#proctor-status")
        expect(status).to_have_attribute("data-face-checks", re.compile(r"^[1-9]"), timeout=30_000)
        began = time.monotonic()
        first = int(status.get_attribute("data-face-checks") or 0)
        paper = c.paper(page)
        for i, q in enumerate(paper[:4]):
            c.answer(page, q["type"])
            page.get_by_role("button", name="Next", exact=True).click()
            c.heading(page, i + 2, len(paper))
        page.wait_for_timeout(max(0, CLEAN_SECONDS - (time.monotonic() - began)) * 1000)

        def checks() -> int:
            return int(status.get_attribute("data-face-checks") or 0) - first

        # A loaded machine checks less often: the session then runs longer
        # (up to twice as long) until the detector has run 30 times.
        while checks() < 30 and time.monotonic() - began < 2 * CLEAN_SECONDS:
            page.wait_for_timeout(1000)
        ran = time.monotonic() - began
        assert checks() >= 30, f"only {checks()} face checks in {ran:.0f}s"
        assert status.get_attribute("data-faces") == "1"
        assert status.get_attribute("data-audio-level") == "0"
        assert staff.events(attempt) == []
        assert staff.actions(attempt) == []
        assert pr.local_events(page) == []
        assert org.attempt(attempt).integrity == "clear"
        expect(page.locator(".proctor-warning")).to_have_count(0)
        expect(page.locator(".proctor-notice")).to_have_count(0)
        assert problems == []
