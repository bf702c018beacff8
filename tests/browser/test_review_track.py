"""Issue 19, review that respects the reviewer's time, in Chromium: a run of
tab exits is one flag; two flags are decided at once with one reason (each
audited); the attempt's events sit on one time axis, and choosing an event
there (by mouse or keyboard) moves the screen recording to that moment, the
recording's segments playing one after the other in one player."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.evidence import service as evidence_service
from invigil.evidence.service import Evidence
from invigil.proctoring.models import RecordingSegment, ReviewDecision
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser.test_review_journey import _sign_in
from tests.conftest import make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.delivery.test_attempts import begin, consent_form
from tests.proctoring.test_pipeline import Chain, custom, rule

POLICY = custom(
    rule("tab-3", "tab.hidden", "flag", severity="high", count=3, window_seconds=30),
)
REASON = "Left the exam tab again and again; the recording shows another site."
# A real WebM clip of a few coloured frames, recorded by Chromium itself.
RECORD = """async (ms) => {
  const canvas = document.createElement("canvas");
  canvas.width = 160; canvas.height = 120;
  const g = canvas.getContext("2d");
  let n = 0;
  const paint = () => { g.fillStyle = `hsl(${(n++ * 37) % 360}, 80%, 50%)`; g.fillRect(0, 0, 160, 120); };
  paint();
  const timer = setInterval(paint, 50);
  const recorder = new MediaRecorder(canvas.captureStream(20), { mimeType: "video/webm;codecs=vp8" });
  const parts = [];
  recorder.ondataavailable = (e) => parts.push(e.data);
  const stopped = new Promise((done) => { recorder.onstop = done; });
  recorder.start();
  await new Promise((done) => setTimeout(done, ms));
  recorder.stop();
  await stopped;
  clearInterval(timer);
  const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""


def _clip(browser: Browser, ms: int) -> bytes:
    context = browser.new_context()
    try:
        page = context.new_page()
        return base64.b64decode(page.evaluate(RECORD, ms))
    finally:
        context.close()


def _attempt(org: c.Org, exam: uuid.UUID, base: str) -> tuple[httpx.Client, str, Chain]:
    link = org.link(exam, name="Tab Leaver")
    token = link.rsplit("/", 1)[1]
    http = httpx.Client(base_url=base, follow_redirects=False)
    landing = http.get(f"/take/{token}")
    started = http.post(f"/take/{token}/start", data=consent_form(landing.text))
    assert started.status_code == 303, started.text
    begun = begin(http, token)  # type: ignore[arg-type]
    assert begun.status_code == 200, begun.text
    return http, token, Chain(begun.json()["attempt_id"])


def test_a_reviewer_decides_two_flags_at_once_and_the_track_moves_the_recording(
    browser: Browser, page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    exam = org.exam(proctoring_policy=POLICY)
    http, token, chain = _attempt(org, exam, live_server)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=100)
    sent: list[dict[str, Any]] = []
    exits = [0, 10, 20, 30, 130, 140, 150]  # two runs: 4 exits, then 3
    for s in exits:
        start = chain.message("tab.hidden", "start", t0 + timedelta(seconds=s))
        end = chain.message("tab.hidden", "end", t0 + timedelta(seconds=s + 2), ends=start["seq"])
        sent += [start, end]
    answer = http.post(f"/take/{token}/api/events", json={"events": sent})
    assert answer.status_code == 200 and all(
        r["status"] == "stored" for r in answer.json()["results"]
    ), answer.text
    assert http.post(f"/take/{token}/api/submit", json={}).status_code == 200
    attempt_id = uuid.UUID(chain_attempt(chain, http, token))

    # Two segments of the screen, back to back: 17 to 19 s and 19 to 21 s.
    clips = [_clip(browser, 2000), _clip(browser, 2000)]
    evidence = Evidence.from_settings(settings)
    segments = []
    with database.unit_of_work(tenant.id) as uow:
        for n, clip in enumerate(clips):
            kept = evidence_service.store(
                uow, evidence, subject_type="attempt", subject_id=str(attempt_id),
                kind_name="recording_chunk", data=[clip],
            )  # fmt: skip
            at = t0 + timedelta(seconds=17 + 2 * n)
            uow.add(
                RecordingSegment(
                    tenant_id=tenant.id, attempt_id=attempt_id, segment_index=n,
                    object_id=kept.id, started_at=at, ended_at=at + timedelta(seconds=2),
                )
            )  # fmt: skip
            segments.append(kept.id)

    reviewer = make_user(database, tenant.id, ["proctor_reviewer"])
    _sign_in(page, live_server, tenant.slug, reviewer.email)
    page.goto(f"{live_server}/proctoring/reviews/{attempt_id}")
    flags = page.locator("article.flag")
    expect(flags).to_have_count(2)  # 4 exits made 2 firings, 3 made 1: one flag per run
    expect(flags.first).to_contain_text("4 events")

    # The time axis: choosing the 3rd exit (20 s in) plays the second segment
    # from 1 s in; the mouse on one mark, the keyboard on another (the 2nd
    # exit, 10 s in, before the recording began: it plays from its start).
    video = page.locator("video#recording")
    third = page.get_by_role("link", name=_mark(t0, 20))
    third.click()
    page.wait_for_function("(v) => v.dataset.segment === '1'", arg=video.element_handle())
    assert video.evaluate("(v) => v.currentSrc").endswith(f"/evidence/{segments[1]}")
    assert float(video.get_attribute("data-offset") or "") == 1.0
    page.wait_for_function(
        "(v) => v.readyState >= 1 && Math.abs(v.currentTime - 1) < 0.6", arg=video.element_handle()
    )
    expect(page.locator("#track-time")).to_have_text(_hms(t0 + timedelta(seconds=20)) + " UTC")

    second = page.get_by_role("link", name=_mark(t0, 10))
    second.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("(v) => v.dataset.segment === '0'", arg=video.element_handle())
    assert video.evaluate("(v) => v.currentSrc").endswith(f"/evidence/{segments[0]}")
    # ... and it plays on into the next segment by itself.
    page.wait_for_function(
        "(v) => v.dataset.segment === '1' && v.currentTime > 0", arg=video.element_handle(),
        timeout=15_000,
    )  # fmt: skip
    video.evaluate("(v) => v.pause()")
    # The slider is keyboard operable and moves the recording too.
    slider = page.get_by_label("Position in the attempt")
    slider.focus()
    page.keyboard.press("Home")
    expect(page.locator("#track-time")).to_have_text(_hms(t0) + " UTC")
    page.wait_for_function("(v) => v.dataset.segment === '0'", arg=video.element_handle())

    # Both flags, one reason.
    page.get_by_label("Choose all 2 flags").check()
    expect(page.locator("#chosen-count")).to_have_text("2 of 2 chosen")
    bulk = page.locator("form#bulk")
    bulk.get_by_label("Confirm the chosen flags").check()
    bulk.get_by_label("Reason for every chosen flag").fill(REASON)
    bulk.get_by_role("button", name="Decide the chosen flags").click()
    expect(page.get_by_text("Decisions on the chosen flags recorded.")).to_be_visible()
    expect(page.locator("article.flag.decided")).to_have_count(2)
    with database.unit_of_work(tenant.id) as uow:
        decided = uow.scalars(select(AuditEvent).where(AuditEvent.action == "review.decided"))
        reasons = {str(d.id): d.reason for d in uow.scalars(select(ReviewDecision))}
    assert [(e.payload["decision"], reasons[e.subject_id], e.payload["bulk"]) for e in decided] == [
        ("confirmed", REASON, 2)
    ] * 2
    assert {e.actor_id for e in decided} == {str(reviewer.id)}


def chain_attempt(chain: Chain, http: httpx.Client, token: str) -> str:
    state = http.get(f"/take/{token}/api/state")
    assert state.status_code == 200, state.text
    return str(state.json()["attempt_id"])


def _hms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S")


def _mark(t0: datetime, s: int) -> str:
    at = t0 + timedelta(seconds=s)
    return f"The exam tab was hidden, from {_hms(at)} to {_hms(at + timedelta(seconds=2))} UTC"
