"""Issue #9 end to end, as people use it: a candidate takes a strict exam
with a second person in view of the camera (snapshots and the shared screen
captured), the server re-checks the snapshots, and a proctor_reviewer signs
in, finds the flagged attempt in the review queue, looks at the snapshot and
plays the screen recording at the event (both through signed URLs),
confirms the flag with a reason and records the outcome; the audit log
holds each decision."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.evidence.service import Evidence
from invigil.proctoring.models import ReviewDecision
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import evidence as ev
from tests.browser import media
from tests.browser import proctoring as pr
from tests.conftest import PASSWORD, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.proctoring.test_reviews import no_contest_window

CANDIDATE = "Rosa Twofaces"
REASON = "Two people are in every snapshot; the second one reads the questions."
OUTCOME_REASON = "Confirmed from the snapshots and the screen recording."


@pytest.fixture(scope="module")
def two_faces(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    folder = tmp_path_factory.mktemp("review-media")
    video = media.write_y4m(folder / "two-faces.y4m", media.two_faces())
    audio = media.write_silence(folder / "silence.wav")
    launched = pr.launch(browser, video, audio)
    try:
        yield launched
    finally:
        launched.close()


def _audit(database: Database, tenant_id: uuid.UUID, attempt: str) -> list[AuditEvent]:
    with database.unit_of_work(tenant_id) as uow:
        rows = uow.scalars(
            select(AuditEvent).where(AuditEvent.action == "review.decided").order_by(AuditEvent.seq)
        )
        return [r for r in rows if r.payload.get("attempt") == attempt]


def _sign_in(page: Page, base: str, tenant: str, email: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def test_a_reviewer_sees_the_evidence_confirms_the_flag_and_the_decision_is_audited(
    two_faces: Browser,
    page: Page,
    database: Database,
    settings: Settings,
    live_server: str,
) -> None:
    tenant = make_tenant(database, settings)
    no_contest_window(database, tenant.id)  # the outcome is final at once (ADR 0059)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    staff = pr.Staff.sign_in(database, tenant, live_server)
    exam = org.exam(
        proctoring_preset="strict", proctoring_policy=ev.strict(snapshot_interval_seconds=10)
    )

    # The candidate: two faces in view, the screen shared, then the submit.
    with pr.context_of(two_faces) as context:
        taker = context.new_page()
        attempt = pr.take_strict(taker, org.link(exam, name=CANDIDATE))
        events = staff.wait_for(attempt, pr.has("face.multiple"), timeout=45)
        multiple = next(e for e in events if e["kind"] == "face.multiple")
        ev.wait(
            lambda: any(s.reason == "event" for s in ev.snapshots(org, attempt)),
            "the snapshot at the event",
            page=taker,
        )
        ev.wait(
            lambda: any(
                g.started_at >= _at(multiple["started_at"]) for g in ev.segments(org, attempt)
            ),
            "a segment of the recording after the event began",
            page=taker,
        )
        taker.get_by_role("button", name="Submit exam").click()
        taker.get_by_role("button", name="Submit now").click()
        expect(taker).to_have_url(re.compile(r"/done$"), timeout=30_000)
    assert org.attempt(attempt).status == "submitted"
    assert not [e for e in staff.events(attempt) if e["kind"] == "detector.failed"]
    checked = ev.recheck_all(org, Evidence.from_settings(settings), attempt)
    assert {s.server_faces for s in checked} == {2}

    # The reviewer.
    signed: list[tuple[str, str]] = []  # what the signed URLs served: (path, content type)
    page.on(
        "response",
        lambda r: (
            signed.append((urlsplit(r.url).path, r.headers.get("content-type", "")))
            if "sig=" in r.url and r.ok
            else None
        ),
    )
    reviewer = make_user(database, tenant.id, ["proctor_reviewer"])
    _sign_in(page, live_server, tenant.slug, reviewer.email)
    page.goto(f"{live_server}/proctoring/reviews")
    queue = page.get_by_role("table")
    row = queue.get_by_role("row").filter(has_text=CANDIDATE)
    expect(row).to_contain_text("flagged")
    row.get_by_role("link", name=CANDIDATE).click()
    expect(page.get_by_role("heading", name=f"Review: {CANDIDATE} · attempt 1")).to_be_visible()

    flag = page.locator("article.flag").filter(
        has_text="More than one face was in view of the camera."
    )
    expect(flag).to_have_count(1)
    snapshot = flag.get_by_role("img", name=re.compile(r"^Webcam snapshot at .* the server: 2$"))
    expect(snapshot.first).to_be_visible()
    snapshot.first.scroll_into_view_if_needed()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=snapshot.first.element_handle()
    )
    assert snapshot.first.evaluate("(img) => img.naturalWidth") > 0

    video = flag.locator("video").first
    expect(video).to_have_attribute("aria-label", re.compile(r"^Screen recording, segment \d+"))
    video.scroll_into_view_if_needed()
    video.focus()
    page.keyboard.press("Space")  # play, from the keyboard
    page.wait_for_function("(v) => v.readyState >= 1 && v.duration > 0", arg=video.element_handle())
    assert video.evaluate("(v) => v.videoWidth") > 0
    page.wait_for_function("(v) => v.currentTime > 0", arg=video.element_handle())  # it plays

    # Every flag decided (the two-face one confirmed), then the outcome.
    for article in page.locator("article.flag:not(.decided)").all():
        article.get_by_label("Confirm").check()
        article.get_by_label("Reason").fill(REASON)
        article.get_by_role("button", name="Record the decision").click()
        expect(page.get_by_text("Decision on the flag recorded.")).to_be_visible()
    outcome = page.locator("#outcome")
    outcome.get_by_label("Violation confirmed: fail").check()
    outcome.get_by_label("Reason").fill(OUTCOME_REASON)
    outcome.get_by_role("button", name="Record the outcome").click()
    expect(page.get_by_text("Outcome recorded. It is final.")).to_be_visible()

    entries = _audit(database, tenant.id, attempt)
    flags = [e for e in entries if e.payload["scope"] == "flag"]
    outcomes = [e for e in entries if e.payload["scope"] == "outcome"]
    # The reasons are in the decisions' rows (the log repeats no staff's words).
    with database.unit_of_work(tenant.id) as uow:
        reasons = {str(d.id): d.reason for d in uow.scalars(select(ReviewDecision))}
    assert ("face-multiple-flag", "confirmed", REASON) in {
        (e.payload["rule"], e.payload["decision"], reasons[e.subject_id]) for e in flags
    }
    assert [
        (e.payload["decision"], reasons[e.subject_id], e.payload["final"]) for e in outcomes
    ] == [("violation_fail", OUTCOME_REASON, True)]
    assert all("reason" not in e.payload for e in entries)
    assert {e.actor_id for e in entries} == {str(reviewer.id)}
    with database.unit_of_work(tenant.id) as uow:
        issued = uow.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.url_issued"))
    assert len(issued) >= 2  # the snapshot and the recording, each through a signed URL
    assert {t for _, t in signed} >= {"image/jpeg", "video/webm"}
    assert all(p.startswith("/evidence/") for p, _ in signed)


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))
