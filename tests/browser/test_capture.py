"""Evidence capture in the candidate's browser (issue #9): webcam snapshots
at the start, on the policy's schedule and at each face event, stored
encrypted and re-checked by the server; the shared screen recorded in
ordered, checksummed segments; nothing lost offline or across a reload, and
nothing dropped without an event; the photo of an ID before the exam.

The fake camera plays files made by the suite (tests/browser/media.py); the
server's re-check runs here the way its job runs it (the test server runs no
job worker)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.evidence.models import Upload
from invigil.evidence.service import Evidence
from invigil.proctoring.models import Snapshot
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import evidence as ev
from tests.browser import media
from tests.browser import proctoring as pr
from tests.browser.axe import assert_accessible
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

INTERVAL = 10  # the shortest snapshot interval a policy may set


@dataclass(frozen=True)
class Clips:
    one_face: Path
    two_faces: Path
    silence: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    folder = tmp_path_factory.mktemp("capture-media")
    return Clips(
        one_face=media.write_y4m(folder / "one-face.y4m", media.one_face()),
        two_faces=media.write_y4m(folder / "two-faces.y4m", media.two_faces()),
        silence=media.write_silence(folder / "silence.wav"),
    )


@pytest.fixture(scope="module")
def setting(database: Database, settings: Settings, live_server: str) -> tuple[c.Org, pr.Staff]:
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    return org, pr.Staff.sign_in(database, tenant, live_server)


@pytest.fixture(scope="module")
def evidence(settings: Settings) -> Evidence:
    """The live server's stores and keys (the same settings)."""
    return Evidence.from_settings(settings)


Launch = Callable[[Path], Browser]


@pytest.fixture
def launched(browser: Browser, files: Clips) -> Iterator[Launch]:
    opened: list[Browser] = []

    def open_with(video: Path) -> Browser:
        b = pr.launch(browser, video, files.silence)
        opened.append(b)
        return b

    yield open_with
    for b in opened:
        b.close()


def _chunk_puts(page: Page) -> list[tuple[str, bytes]]:
    """Every recording chunk the page sends: (its X-Chunk-SHA256, its bytes)."""
    sent: list[tuple[str, bytes]] = []

    def seen(request: Request) -> None:
        if request.method == "PUT" and "/chunks/" in request.url:
            sent.append(
                (request.headers.get("x-chunk-sha256", ""), request.post_data_buffer or b"")
            )

    page.on("request", seen)
    return sent


def test_two_faces_are_snapshotted_stored_encrypted_rechecked_and_the_screen_recorded(
    launched: Launch,
    setting: tuple[c.Org, pr.Staff],
    files: Clips,
    evidence: Evidence,
) -> None:
    org, staff = setting
    exam = org.exam(
        proctoring_preset="strict", proctoring_policy=ev.strict(snapshot_interval_seconds=INTERVAL)
    )
    with pr.context_of(launched(files.two_faces)) as context:
        page = context.new_page()
        problems = c.watch(page)
        chunks = _chunk_puts(page)
        attempt = pr.take_strict(page, org.link(exam))
        events = staff.wait_for(attempt, pr.has("face.multiple", ended=False), timeout=45)
        multiple = next(e for e in events if e["kind"] == "face.multiple")

        def taken() -> list[Snapshot] | None:
            shots = ev.snapshots(org, attempt)
            reasons = {s.reason for s in shots}
            return shots if {"start", "periodic", "event"} <= reasons else None

        shots = ev.wait(taken, "a start, a periodic and an event snapshot", timeout=40, page=page)
        # Two screen segments (5 s each) stored before the page closes, however
        # quickly the events and snapshots above were taken.
        ev.wait(lambda: ev.segments(org, attempt)[1:], "two screen segments", page=page)
        assert problems == []

    # The event snapshot names the face event and carries the browser's count.
    event_shot = next(s for s in shots if s.reason == "event")
    assert event_shot.event_seq == multiple["seq"]
    assert event_shot.client_faces == 2
    assert next(s for s in shots if s.reason == "start").client_faces == 2

    # Periodic ones come on the policy's schedule.
    periodic = [s.taken_at for s in shots if s.reason == "periodic"]
    for a, b in itertools.pairwise(periodic):
        assert abs((b - a).total_seconds() - INTERVAL) < 3

    # Stored encrypted: the store holds ciphertext, the service gives the JPEG back.
    for s in shots:
        obj = next(o for o in ev.objects(org, attempt, "snapshot") if o.id == s.object_id)
        assert obj.content_type == "image/jpeg"
        raw = ev.stored_bytes(evidence, obj)
        clear = ev.plaintext(org, evidence, obj)
        assert clear.startswith(ev.JPEG)
        assert not raw.startswith(ev.JPEG) and clear not in raw
        assert hashlib.sha256(clear).hexdigest() == obj.plaintext_sha256

    # The server counts two faces itself, and agrees with the browser.
    checked = ev.recheck_all(org, evidence, attempt)
    assert {s.server_faces for s in checked} == {2}
    assert {s.server_status for s in checked if s.client_faces == 2} == {"agrees"}
    assert org.attempt(attempt).integrity == "flagged"
    assert ("face-multiple-flag", "flag") in {
        (a["rule_id"], a["action"]) for a in staff.actions(attempt)
    }

    # The shared screen: segments in order, each a WebM, each chunk with its checksum.
    recorded = ev.segments(org, attempt)
    assert len(recorded) >= 2, recorded
    assert [g.segment_index for g in recorded] == list(range(len(recorded)))
    for g, h in itertools.pairwise(recorded):
        assert g.started_at <= h.started_at and g.ended_at <= h.ended_at
    for g in recorded:
        assert g.ended_at > g.started_at
    webm = {o.id: o for o in ev.objects(org, attempt, "recording_chunk")}
    assert {g.object_id for g in recorded} <= set(webm)
    for g in recorded:
        assert ev.plaintext(org, evidence, webm[g.object_id]).startswith(ev.WEBM)
    assert chunks and all(sha == hashlib.sha256(body).hexdigest() for sha, body in chunks)
    assert pr.kinds(staff.events(attempt)).count("detector.failed") == 0


def test_a_client_whose_face_check_is_blocked_keeps_sending_snapshots_the_server_judges(
    launched: Launch,
    setting: tuple[c.Org, pr.Staff],
    files: Clips,
    evidence: Evidence,
) -> None:
    """face-api never loads (as if the script were tampered with): the browser
    reports no face event at all, yet its snapshots keep coming on schedule,
    without a face count, and the server's re-check finds the two faces."""
    org, staff = setting
    exam = org.exam(
        proctoring_preset="strict", proctoring_policy=ev.strict(snapshot_interval_seconds=INTERVAL)
    )
    with pr.context_of(launched(files.two_faces)) as context:
        context.route("**/vendor/face-api/**", lambda route: route.abort())
        page = context.new_page()
        problems = c.watch(page)
        attempt = pr.take_strict(page, org.link(exam))
        staff.wait_for(attempt, pr.has("detector.failed"), page=page)

        def three() -> list[Snapshot] | None:
            taken = ev.snapshots(org, attempt)
            return taken if len(taken) >= 3 else None

        shots = ev.wait(
            three,
            "three snapshots",
            timeout=2 * INTERVAL + 15,
            page=page,
        )
        assert problems == []

    assert [s.reason for s in shots[:3]] == ["start", "periodic", "periodic"]
    assert {s.client_faces for s in shots} == {None}  # the browser could not count
    gaps = [(b.taken_at - a.taken_at).total_seconds() for a, b in itertools.pairwise(shots[1:])]
    assert all(abs(g - INTERVAL) < 3 for g in gaps), gaps

    events = staff.events(attempt)
    failed = next(e for e in events if e["kind"] == "detector.failed")
    assert (failed["details"]["detector"], failed["details"]["reason"]) == (
        "face",
        "model_load_failed",
    )
    assert not {"face.multiple", "face.none", "face.mismatch"} & set(pr.kinds(events))

    checked = ev.recheck_all(org, evidence, attempt)
    assert {s.server_faces for s in checked} == {2}
    assert {s.server_status for s in checked} == {"mismatch"}
    mismatches = [e for e in staff.events(attempt) if e["kind"] == "face.mismatch"]
    assert len(mismatches) == len(checked)
    assert all(m["details"]["claim"] == "detector_down" for m in mismatches)
    assert all(m["details"]["client_detector"] == "down" for m in mismatches)
    assert org.attempt(attempt).integrity == "flagged"
    assert ("face-mismatch-flag", "flag") in {
        (a["rule_id"], a["action"]) for a in staff.actions(attempt)
    }


def _indices(org: c.Org, attempt: str) -> list[int]:
    return [g.segment_index for g in ev.segments(org, attempt)]


def _whole(org: c.Org, attempt: str) -> None:
    """Segments 0..n-1, each once, each its own object."""
    recorded = ev.segments(org, attempt)
    assert [g.segment_index for g in recorded] == list(range(len(recorded)))
    assert len({g.object_id for g in recorded}) == len(recorded)
    objects = ev.objects(org, attempt, "recording_chunk")
    assert len(objects) == len(recorded)  # nothing stored twice


def test_recording_offline_and_across_a_reload_arrives_once_and_in_order(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: Clips
) -> None:
    org, staff = setting
    with pr.context_of(launched(files.one_face)) as context:
        page = context.new_page()
        problems = c.watch(page)
        attempt = pr.take_strict(page, org.link(org.exam(proctoring_preset="strict")))
        ev.wait(lambda: ev.segments(org, attempt), "a first segment", page=page)

        # Offline: the segments wait in IndexedDB, as blobs, and go once online.
        context.set_offline(True)
        held = ev.wait(
            lambda: (
                [r for r in ev.pending(page) if r["type"] == "segment"][1:] and ev.pending(page)
            ),
            "two segments kept on the device",
            page=page,
        )
        assert all(r["blob"] and r["size"] > 0 for r in held)
        before = len(ev.segments(org, attempt))
        context.set_offline(False)
        ev.wait(lambda: not ev.pending(page), "the device's segments sent", page=page)
        assert len(ev.segments(org, attempt)) >= before + 2
        _whole(org, attempt)

        # Chunks cannot get through, then the page reloads: the begun uploads
        # are resumed after it (not begun again) and nothing is stored twice.
        context.route("**/api/uploads/*/chunks/*", lambda route: route.abort())
        begun = ev.wait(
            lambda: [r for r in ev.pending(page) if r["upload_id"]],
            "an upload begun and waiting for its chunks",
            page=page,
        )
        page.reload()
        pr.take(page, "", share_screen=True, fullscreen=True)
        kept = {r["id"]: r for r in ev.pending(page)}
        assert {r["id"] for r in begun} <= set(kept), "the reload lost what the device held"
        context.unroute("**/api/uploads/*/chunks/*")
        ev.wait(
            lambda: {r["upload_id"] for r in begun} <= _completed_uploads(org, attempt),
            "the begun uploads completed",
            page=page,
        )
        ev.wait(lambda: not ev.pending(page), "the device's segments sent", page=page)
        _whole(org, attempt)
        assert problems == []
    events = staff.events(attempt)
    assert "network.offline" in pr.kinds(events)
    assert "detector.failed" not in pr.kinds(events)


def _completed_uploads(org: c.Org, attempt: str) -> set[str]:
    with org.database.unit_of_work(org.tenant_id) as uow:
        return {
            str(u.id)
            for u in uow.scalars(
                select(Upload).where(Upload.subject_id == attempt, Upload.status == "completed")
            )
        }


SCREENS = """
(() => {
  const share = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getDisplayMedia = async (constraints) => {
    const stream = await share(constraints);
    window.__screens = (window.__screens || []).concat([stream]);
    return stream;
  };
})();
"""


def test_a_refused_chunk_is_an_event_and_a_stopped_share_stops_the_recording(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: Clips
) -> None:
    org, staff = setting
    with pr.context_of(launched(files.one_face)) as context:
        context.add_init_script(SCREENS)  # to end the shared screen as its browser bar would
        page = context.new_page()
        attempt = pr.take_strict(page, org.link(org.exam(proctoring_preset="strict")))

        # The server refuses a chunk for good: the segment is dropped, and said so.
        problem = '{"type": "urn:invigil:problem:too-large", "status": 413, "detail": "too large"}'
        context.route(
            "**/api/uploads/*/chunks/*",
            lambda route: route.fulfill(
                status=413, body=problem, content_type="application/problem+json"
            ),
        )
        events = staff.wait_for(attempt, pr.has("detector.failed"), page=page)
        dropped = next(e for e in events if e["kind"] == "detector.failed")
        assert dropped["details"]["detector"] == "capture"
        assert dropped["details"]["reason"] == "dropped"
        assert dropped["details"]["what"] == "recording_chunk"
        assert dropped["details"]["why"].startswith("413")
        assert isinstance(dropped["details"]["segment_index"], int)
        context.unroute("**/api/uploads/*/chunks/*")
        ev.wait(lambda: ev.segments(org, attempt), "a segment after the refusal", page=page)

        # Sharing ends: screen.share_stopped, the last segment goes, no more follow.
        page.evaluate(
            """() => {
              const [track] = window.__screens[window.__screens.length - 1].getVideoTracks();
              track.stop();
              track.dispatchEvent(new Event("ended"));
            }"""
        )
        staff.wait_for(attempt, pr.has("screen.share_stopped"), page=page)
        expect(page.locator("#proctor-notices")).to_contain_text("Screen sharing stopped.")
        ev.wait(lambda: not ev.pending(page), "the last segment sent", page=page)
        stopped_at = len(ev.segments(org, attempt))
        page.wait_for_timeout(7000)  # longer than a segment
        assert len(ev.segments(org, attempt)) == stopped_at

        # Shared again: the recording goes on, in order.
        page.get_by_role("button", name="Share screen again").click()
        staff.wait_for(attempt, pr.has("screen.share_stopped", ended=True), page=page)
        ev.wait(
            lambda: len(ev.segments(org, attempt)) > stopped_at,
            "a segment after sharing again",
            page=page,
        )
        indices = _indices(org, attempt)
        assert indices == sorted(set(indices))


def test_the_photo_of_an_id_is_taken_before_the_exam_with_the_keyboard(
    launched: Launch, setting: tuple[c.Org, pr.Staff], files: Clips, evidence: Evidence
) -> None:
    org, _ = setting
    exam = org.exam(proctoring_preset="strict", proctoring_policy=ev.strict(id_photo=True))
    with pr.context_of(launched(files.one_face)) as context:
        page = context.new_page()
        problems = c.watch(page)
        c.start(page, org.link(exam))
        page.get_by_role("button", name="Share screen").click()
        step = page.get_by_role("region", name="Photo of your ID")
        expect(step.get_by_role("heading", name="Photo of your ID")).to_be_focused()
        expect(step.get_by_label("Your camera picture")).to_be_visible()
        assert_accessible(page, "the ID photo step")
        take = step.get_by_role("button", name="Take photo of your ID")
        take.focus()
        page.keyboard.press("Enter")
        use = step.get_by_role("button", name="Use this photo")
        expect(use).to_be_focused()
        expect(step.get_by_role("img", name="The photo of your ID that you took")).to_be_visible()
        expect(step.get_by_role("status")).to_contain_text("Photo taken.")
        assert_accessible(page, "the ID photo step with a photo taken")
        page.keyboard.press("Shift+Tab")
        expect(step.get_by_role("button", name="Retake photo")).to_be_focused()
        page.keyboard.press("Enter")
        expect(take).to_be_focused()
        expect(step.get_by_role("img")).to_be_hidden()
        assert ev.objects(org, c.boot(page)["attempt_id"], "id_photo") == []  # nothing sent yet
        page.keyboard.press("Enter")
        expect(use).to_be_focused()
        page.keyboard.press("Enter")
        expect(step).to_contain_text("Your ID photo was sent.")
        attempt = pr.take(page, "", fullscreen=True)
        assert problems == []

    photos = ev.objects(org, attempt, "id_photo")
    assert len(photos) == 1  # only the photo chosen, not the one retaken
    assert ev.plaintext(org, evidence, photos[0]).startswith(ev.JPEG)
    assert photos[0].content_type == "image/jpeg"
