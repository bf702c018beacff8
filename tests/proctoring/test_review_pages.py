"""The review pages as a reviewer uses them: the queue, the review page
(timeline, rule explanations, evidence through signed URLs issued per
viewer and audited), deciding flags and the outcome with forms, the second
reviewer of high_stakes, and the integrity summary include."""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.delivery.models import Attempt
from invigil.evidence import service as evidence_service
from invigil.identity import service as identity
from invigil.proctoring.api import EventOut
from invigil.proctoring.models import ProctoringEvent, RecordingSegment, ReviewDecision, Snapshot
from invigil.proctoring.review_timeline import _near
from invigil.settings import Settings
from invigil.web.pages import templates
from tests.conftest import BoundDatabase
from tests.evidence.factories import jpeg, webm
from tests.proctoring.test_reviews import HIGH_STAKES, Sat, entries, flagged, flags_of
from tests.test_pages_matrix import web_client

TAG = re.compile(r"<[^>]+>")
IMG = re.compile(r'<img loading="lazy" src="([^"]+)"')


def words(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def with_evidence(app: FastAPI, db: BoundDatabase, s: Sat) -> tuple[uuid.UUID, uuid.UUID, bytes]:
    """A snapshot the server re-checked (two faces where the browser said one)
    and a recording segment, both at the time of the tab flag."""
    with db.unit_of_work(s.tenant_id) as uow:
        tab = next(f for f in flags_of(db, s) if f.rule_id == "tab-flag")
        attempt = uow.get(Attempt, s.attempt_id)
        event = uow.scalar(
            select(ProctoringEvent).where(
                ProctoringEvent.attempt_id == attempt.id, ProctoringEvent.seq == tab.episode_seq
            )
        )
        assert event is not None
        image = jpeg(3000)
        store = app.state.services.evidence
        kept = evidence_service.store(
            uow,
            store,
            subject_type="attempt",
            subject_id=str(attempt.id),
            kind_name="snapshot",
            data=[image],
        )
        uow.add(
            Snapshot(
                tenant_id=s.tenant_id,
                attempt_id=attempt.id,
                object_id=kept.id,
                taken_at=event.at + timedelta(seconds=2),
                reason="event",
                event_seq=event.seq,
                client_faces=1,
                server_faces=2,
                server_status="mismatch",
            )
        )
        clip = evidence_service.store(
            uow,
            store,
            subject_type="attempt",
            subject_id=str(attempt.id),
            kind_name="recording_chunk",
            data=[webm(4000)],
        )
        uow.add(
            RecordingSegment(
                tenant_id=s.tenant_id,
                attempt_id=attempt.id,
                segment_index=0,
                object_id=clip.id,
                started_at=event.at - timedelta(seconds=1),
                ended_at=event.at + timedelta(seconds=4),
            )
        )
        uow.flush()
        return kept.id, clip.id, image


@dataclass
class Form:
    scope: str
    decision: str
    reason: str
    action_id: str = ""
    supersedes: str = ""


def post(client: TestClient, csrf: str, s: Sat, form: Form) -> Any:
    data = {"csrf": csrf} | form.__dict__
    return client.post(f"/proctoring/reviews/{s.attempt_id}/decisions", data=data)


def test_a_reviewer_finds_the_attempt_reads_the_evidence_and_decides(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings)
    snapshot_id, segment_id, image = with_evidence(app, db, s)
    staff, csrf = web_client(app, db, s.tenant_id, ["proctor_reviewer"])

    queue = staff.get("/proctoring/reviews")
    assert queue.status_code == 200, queue.text
    row = words(queue.text.split("<tbody>")[1].split("</tr>")[0])
    assert "Cand Idate" in row and "critical" in row and "provisional fail" in row
    assert "2 undecided" in row and "1 critical, 1 medium" in row
    assert f'href="/proctoring/reviews/{s.attempt_id}"' in queue.text
    nobody = staff.get("/proctoring/reviews?q=nobody-by-this-name")
    assert "No attempt matching this search or filter waits for review" in nobody.text
    elsewhere = staff.get(f"/proctoring/reviews?exam={uuid.uuid4()}")  # not an exam of the list
    assert elsewhere.status_code == 400 and "exam" in elsewhere.text

    page = staff.get(f"/proctoring/reviews/{s.attempt_id}")
    assert page.status_code == 200, page.text
    text = words(page.text)
    assert "The exam tab was hidden once, at " in text  # the flag in words
    assert 'Rule "' not in text and "event 1" not in text  # no rule internals, no event numbers
    assert "The exam tab was hidden" in text and "for 5 s" in text  # the timeline, with duration
    assert "Submitted by the candidate" in text and "Clock started" in text
    assert "Warning: rule copy-warn" in text  # a warn is shown too, not decided
    assert "Integrity summary" in text and "counted different faces" in text
    assert "The provisional fail stays provisional until a reviewer decides" in text
    assert "confirm or dismiss every flag first (2 undecided)" in text
    assert 'value="violation_fail"' not in page.text  # no outcome form yet
    src = f"/proctoring/reviews/{s.attempt_id}/evidence/{snapshot_id}"
    assert src in IMG.findall(page.text)  # the image, near its event, no signed URL on the page
    assert f'src="/proctoring/reviews/{s.attempt_id}/evidence/{segment_id}"' in page.text
    assert "/evidence/" + str(snapshot_id) + "?" not in page.text
    assert "disagrees" in text

    # The image's link issues a signed URL for this viewer only, audited.
    issued = staff.get(src)
    assert issued.status_code == 303 and issued.headers["cache-control"] == "no-store"
    signed = issued.headers["location"]
    assert urlsplit(signed).path == f"/evidence/{snapshot_id}"
    viewer = parse_qs(urlsplit(signed).query)["viewer"][0]
    read = staff.get(signed)
    assert read.status_code == 200 and read.content == image
    [entry] = entries(db, s.tenant_id, "evidence.url_issued")
    assert entry.subject_id == str(snapshot_id) and entry.payload["viewer"] == viewer
    assert len(entries(db, s.tenant_id, "evidence.read")) == 1
    other, _ = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    assert other.get(signed).status_code == 403  # a link is bound to its viewer
    not_ours = staff.get(f"/proctoring/reviews/{s.attempt_id}/evidence/{uuid.uuid4()}")
    assert not_ours.status_code == 404

    # Deciding: a missing reason keeps what was chosen and says why.
    tab, fail = (
        next(f for f in flags_of(db, s) if f.rule_id == r) for r in ("tab-flag", "copy-fail")
    )
    refused = post(staff, csrf, s, Form("flag", "confirmed", "  ", str(tab.id)))
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "Give a reason" in refused.text
    done = post(staff, csrf, s, Form("flag", "confirmed", "Left the tab twice", str(tab.id)))
    assert done.status_code == 303
    assert done.headers["location"] == f"/proctoring/reviews/{s.attempt_id}#flag-{tab.id}"
    post(staff, csrf, s, Form("flag", "dismissed", "Copied own name", str(fail.id)))
    page = staff.get(f"/proctoring/reviews/{s.attempt_id}")
    assert 'value="violation_fail"' in page.text and "Left the tab twice" in page.text
    with db.unit_of_work(s.tenant_id) as uow:
        current = uow.scalar(select(ReviewDecision).where(ReviewDecision.action_id == tab.id))
        assert current is not None
    assert f'name="supersedes" value="{current.id}"' in page.text  # changing names the current one
    stale = post(staff, csrf, s, Form("flag", "dismissed", "changed my mind", str(tab.id)))
    assert stale.status_code == 409 and "decided meanwhile" in stale.text
    final = post(staff, csrf, s, Form("outcome", "violation_fail", "Used another tab"))
    assert final.status_code == 303 and final.headers["location"].endswith("#outcome")
    page = staff.get(final.headers["location"])
    assert "Outcome recorded. It is final." in page.text
    assert "Violation confirmed: fail (final)" in words(page.text)
    assert len(entries(db, s.tenant_id, "review.decided")) == 3


def test_high_stakes_shows_awaiting_second_review_until_another_reviewer_concurs(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, HIGH_STAKES)
    alice, alice_csrf = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    bob, bob_csrf = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    for f in flags_of(db, s):
        post(alice, alice_csrf, s, Form("flag", "confirmed", "seen", str(f.id)))
    r = post(alice, alice_csrf, s, Form("outcome", "violation_fail", "copied"))
    assert r.headers["location"].endswith("#outcome")
    mine = alice.get(r.headers["location"])
    assert "A second reviewer must record the same outcome" in mine.text
    assert "You recorded it: another reviewer must concur." in mine.text
    queue = words(alice.get("/proctoring/reviews").text)
    assert "awaiting second review" in queue
    theirs = bob.get(f"/proctoring/reviews/{s.attempt_id}")
    assert "awaiting second review" in theirs.text and "You recorded it" not in theirs.text
    assert "Concur with the outcome, or record another" in theirs.text
    with db.unit_of_work(s.tenant_id) as uow:
        first = uow.scalar(select(ReviewDecision).where(ReviewDecision.scope == "outcome"))
        assert first is not None
    done = post(
        bob, bob_csrf, s, Form("outcome", "violation_fail", "agree", supersedes=str(first.id))
    )
    assert done.headers["location"].endswith("#outcome")
    with db.unit_of_work(s.tenant_id) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt.review_final is True
    assert "Nothing to review" in bob.get("/proctoring/reviews").text


def test_without_evidence_view_the_page_says_so_and_shows_no_image(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings)
    snapshot_id, _, _ = with_evidence(app, db, s)
    with db.unit_of_work(s.tenant_id) as uow:
        identity.create_role(
            uow, name="flag_reader", description="", permissions=["violation:review"]
        )
    reader, _ = web_client(app, db, s.tenant_id, ["flag_reader"])
    page = reader.get(f"/proctoring/reviews/{s.attempt_id}")
    assert page.status_code == 200
    assert "your role does not include evidence:view" in page.text
    assert str(snapshot_id) not in page.text
    assert (
        reader.get(f"/proctoring/reviews/{s.attempt_id}/evidence/{snapshot_id}").status_code == 403
    )


def test_the_integrity_include_renders_for_the_staff_attempt_page(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """``{% include "proctoring/_integrity.html" %}`` in delivery/attempt.html
    needs only ``page`` and ``d.attempt``, which that page has."""
    s = flagged(app, db, settings)

    @dataclass
    class Page:
        uow: Any
        permissions: frozenset[str]

        def can(self, permission: str) -> bool:
            return permission in self.permissions

    @dataclass
    class Detail:
        attempt: Attempt

    with db.unit_of_work(s.tenant_id) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        out = templates.env.get_template("proctoring/_integrity.html").render(
            page=Page(uow, frozenset({"violation:review"})), d=Detail(attempt)
        )
    text = words(out)
    assert "Integrity summary" in text and "provisional fail" in text
    assert "not reviewed yet" in text and "2 undecided" in text
    assert f'href="/proctoring/reviews/{s.attempt_id}"' in out


def test_a_running_attempt_can_be_reviewed_flag_by_flag_but_has_no_outcome_yet(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, submit=False)
    staff, csrf = web_client(app, db, s.tenant_id, ["tenant_admin"])
    for f in flags_of(db, s):
        assert post(staff, csrf, s, Form("flag", "dismissed", "fine", str(f.id))).status_code == 303
    page = staff.get(f"/proctoring/reviews/{s.attempt_id}")
    assert "the attempt is still running" in page.text
    assert 'value="cleared"' not in page.text
    refused = post(staff, csrf, s, Form("outcome", "cleared", "fine"))
    assert refused.status_code == 409 and "still running" in refused.text


def test_evidence_near_an_event_is_its_own_or_within_seconds_of_it() -> None:
    t = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)

    def event(seq: int, start: int, end: int | None, end_seq: int | None = None) -> EventOut:
        return EventOut(
            id=f"a:{seq}",
            seq=seq,
            kind="tab.hidden",
            severity="info",
            started_at=t + timedelta(seconds=start),
            ended_at=None if end is None else t + timedelta(seconds=end),
            duration_seconds=None,
            details={},
            end_seq=end_seq,
            received_at=t,
            linked=True,
            source="client",
        )

    def snap(at: int, seq: int | None = None) -> Snapshot:
        return Snapshot(taken_at=t + timedelta(seconds=at), event_seq=seq, object_id=uuid.uuid4())

    def segment(index: int, start: int, end: int) -> RecordingSegment:
        return RecordingSegment(
            segment_index=index,
            started_at=t + timedelta(seconds=start),
            ended_at=t + timedelta(seconds=end),
            object_id=uuid.uuid4(),
        )

    shots = [snap(-30), snap(-9), snap(5), snap(36), snap(200, seq=7), snap(300)]
    segments = [segment(i, i * 5, i * 5 + 5) for i in range(12)]
    instant = _near(event(3, 0, 0), shots, segments)
    assert [s.taken_at for s in instant.snapshots] == [shots[1].taken_at, shots[2].taken_at]
    assert [g.segment_index for g in instant.segments] == [0, 1]  # -5 s .. +5 s
    long = _near(event(6, 0, 25, end_seq=7), shots, segments)
    assert shots[4] in long.snapshots and shots[3] not in long.snapshots
    assert [g.segment_index for g in long.segments] == [0, 1, 2] and long.more_segments == 4
    assert not _near(event(9, 1000, None), shots, segments)


def test_the_id_photo_is_on_the_review_page_and_served_for_its_attempt_only(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s, other = flagged(app, db, settings), flagged(app, db, settings)
    photos = {}
    for sat in (s, other):
        with db.unit_of_work(sat.tenant_id) as uow:
            photos[sat.attempt_id] = evidence_service.store(
                uow,
                app.state.services.evidence,
                subject_type="attempt",
                subject_id=str(sat.attempt_id),
                kind_name="id_photo",
                data=[jpeg(2000)],
            ).id
    staff, _ = web_client(app, db, s.tenant_id, ["proctor_reviewer"])
    page = staff.get(f"/proctoring/reviews/{s.attempt_id}")
    assert page.status_code == 200, page.text
    assert "Photo of an identity document" in words(page.text)
    src = f"/proctoring/reviews/{s.attempt_id}/evidence/{photos[s.attempt_id]}"
    assert f'src="{src}"' in page.text
    assert str(photos[other.attempt_id]) not in page.text
    issued = staff.get(src)
    assert issued.status_code == 303
    assert urlsplit(issued.headers["location"]).path == f"/evidence/{photos[s.attempt_id]}"
    # Another attempt's photo is not reachable through this attempt's page.
    crossed = staff.get(f"/proctoring/reviews/{s.attempt_id}/evidence/{photos[other.attempt_id]}")
    assert crossed.status_code == 404
