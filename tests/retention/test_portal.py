"""The candidate portal: the link (issue, open, expire, revoke, replace),
the neutral request form, one candidate's data only, results only as
released, evidence through the portal (audited), contests (window,
attachment limits, written once, anchored), a violation not final while
the window is open, and the review page showing the contest."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.delivery.links import LinkKey
from invigil.delivery.models import Attempt, Candidate, OutboxMail
from invigil.evidence import service as evidence_service
from invigil.evidence.models import EvidenceObject
from invigil.proctoring import contests, reviews
from invigil.proctoring.models import Contest, ProctoringAction, ReviewDecision, Snapshot
from invigil.results import release, result_link
from invigil.retention import policy, portal_links
from invigil.retention.models import PortalLink
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.evidence.factories import jpeg
from tests.results.helpers import FLAGGING, Sat, link_kit, make_release_exam, sit
from tests.test_pages_matrix import web_client

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def kit(settings: Settings, hours: int = 24) -> portal_links.Kit:
    keys = settings.keys_dir
    return portal_links.Kit(
        LinkKey(keys / "guest-link.key"), SecretBox(keys / "secrets.key"), settings.issuer,
        hours, True,
    )  # fmt: skip


def flagged_sat(db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID, **exam: Any) -> Sat:
    exam_id = make_release_exam(db, tenant_id, proctoring_policy=FLAGGING, **exam)
    return sit(db, settings, tenant_id, exam_id, flagged=True)


def candidate_of(db: BoundDatabase, sat: Sat) -> Candidate:
    with db.unit_of_work(sat.tenant_id) as uow:
        return uow.get(Candidate, uow.get(Attempt, sat.attempt_id).candidate_id)


def portal_token(db: BoundDatabase, settings: Settings, sat: Sat) -> str:
    with db.unit_of_work(sat.tenant_id) as uow:
        candidate = uow.get(Candidate, uow.get(Attempt, sat.attempt_id).candidate_id)
        return portal_links.issue(uow, kit(settings), candidate, "test")[1]


def flag_of(db: BoundDatabase, sat: Sat) -> ProctoringAction:
    with db.unit_of_work(sat.tenant_id) as uow:
        found = uow.scalar(
            select(ProctoringAction).where(ProctoringAction.attempt_id == sat.attempt_id)
        )
        assert found is not None
        return found


def snapshot(app: FastAPI, db: BoundDatabase, sat: Sat) -> tuple[uuid.UUID, bytes]:
    """A snapshot taken during the flagged tab switch."""
    image = jpeg(3000)
    with db.unit_of_work(sat.tenant_id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        kept = evidence_service.store(
            uow, app.state.services.evidence, subject_type="attempt",
            subject_id=str(attempt.id), kind_name="snapshot", data=[image],
        )  # fmt: skip
        flag = uow.scalar(select(ProctoringAction).where(ProctoringAction.attempt_id == attempt.id))
        assert flag is not None
        uow.add(
            Snapshot(
                tenant_id=sat.tenant_id, attempt_id=attempt.id, object_id=kept.id,
                taken_at=flag.window_start or flag.created_at, reason="event",
                event_seq=flag.episode_seq,
            )
        )  # fmt: skip
        return kept.id, image


def test_a_link_opens_until_it_expires_is_replaced_or_revoked(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant, other = make_tenant(db, settings), make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    unknown = client.get(f"/my/pt.{tenant.id.hex}.{'x' * 43}")
    assert unknown.status_code == 404
    token = portal_token(db, settings, sat)
    page = client.get(f"/my/{token}")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert f"/my/{token}/attempts/{sat.attempt_id}" in page.text
    # another tenant, another kind of link, a result token: the same page as unknown
    for dead in (
        token.replace(tenant.id.hex, other.id.hex),
        token.replace("pt.", "gl.", 1),
        token.replace("pt.", "rl.", 1),
        token[:-2],
    ):
        r = client.get(f"/my/{dead}")
        assert (r.status_code, r.content) == (404, unknown.content), dead
    assert client.get(f"/take/{token}").status_code == 404
    assert client.get(f"/result/{token}").status_code == 404
    # replaced by a newer one
    newer = portal_token(db, settings, sat)
    assert (client.get(f"/my/{token}").content, client.get(f"/my/{newer}").status_code) == (
        unknown.content,
        200,
    )
    # expired
    with db.unit_of_work(tenant.id) as uow:
        link = uow.scalar(select(PortalLink).where(PortalLink.ended_at.is_(None)))
        assert link is not None
        assert portal_links.state_of(link) == "live"
        link.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get(f"/my/{newer}").content == unknown.content
    # revoked (by staff, audited)
    third = portal_token(db, settings, sat)
    with db.unit_of_work(tenant.id, Actor("user", str(uuid.uuid4()))) as uow:
        cid = uow.get(Attempt, sat.attempt_id).candidate_id
        revoked = portal_links.revoke(uow, cid)
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == "portal_link.revoked"))
        assert entry is not None and entry.subject_id == str(revoked.id)
    assert client.get(f"/my/{third}").content == unknown.content
    with db.unit_of_work(tenant.id) as uow:
        states = [portal_links.state_of(x) for x in portal_links.links_of(uow, cid)]
    assert sorted(states) == ["replaced", "replaced", "revoked"]  # the expired one replaced too


def run_requests(app: FastAPI, db: BoundDatabase, tenant_id: uuid.UUID, ran: set[int]) -> int:
    """Run the queued "See my data" jobs not run yet, as the worker would; how many ran."""
    with db.unit_of_work(tenant_id) as uow:
        rows = uow.session.execute(
            text(
                "SELECT id, args->>'tenant_id', args->>'sealed' FROM procrastinate_jobs "
                "WHERE task_name = :t ORDER BY id"
            ),
            {"t": portal_links.REQUEST_TASK},
        ).all()
    todo = [r for r in rows if r[0] not in ran and r[1] == str(tenant_id)]
    for job_id, tenant, sealed in todo:
        ran.add(job_id)
        portal_links.run_request(db, app.state.services, tenant, sealed)
    return len(todo)


def test_the_request_form_answers_the_same_for_known_and_unknown_addresses(
    app: FastAPI, db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de"], None)
    exam_id = make_release_exam(db, tenant.id, proctoring_policy=FLAGGING)
    sat = sit(db, settings, tenant.id, exam_id, flagged=True, language="de")
    candidate = candidate_of(db, sat)
    form = client.get(f"/portal/{tenant.slug}")
    assert form.status_code == 200 and 'name="email"' in form.text
    known = client.post(f"/portal/{tenant.slug}", data={"email": candidate.email.upper()})
    unknown = client.post(f"/portal/{tenant.slug}", data={"email": "nobody@example.org"})
    nowhere = client.post("/portal/no-such-org", data={"email": candidate.email})
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert "If we know this address, we have sent a link" in known.text
    assert nowhere.status_code == 200 and "If we know this address" in nowhere.text
    ran: set[int] = set()
    assert run_requests(app, db, tenant.id, ran) == 2  # the same work for both: the job decides
    with db.unit_of_work(tenant.id) as uow:
        links = uow.scalars(select(PortalLink))
        assert [link.candidate_id for link in links] == [candidate.id]
        issued = uow.scalar(select(AuditEvent).where(AuditEvent.action == "portal_link.issued"))
        assert issued is not None and issued.payload["language"] == "de"
        assert candidate.email not in str(issued.payload)  # ids only
        mail = uow.get(OutboxMail, uuid.UUID(issued.payload["mail_id"]))
        assert mail.to_address == candidate.email and mail.locale == "de"
        assert "{guest_link}" in mail.body and "pt." not in mail.body  # never in clear
        assert "Ihr persönlicher Link" in mail.body, mail.body
    # asking again at once sends nothing more (no mailbox flooding), same answer
    again = client.post(f"/portal/{tenant.slug}", data={"email": candidate.email})
    assert again.content == known.content
    assert run_requests(app, db, tenant.id, ran) == 1
    with db.unit_of_work(tenant.id) as uow:
        assert len(list(uow.scalars(select(PortalLink)))) == 1
    empty = client.post(f"/portal/{tenant.slug}", data={"email": " "})
    assert empty.status_code == 422 and 'href="#f-email"' in empty.text
    long = client.post(f"/portal/{tenant.slug}", data={"email": "a@" + "b" * 5000})
    assert long.status_code == 200


def test_another_candidates_attempt_or_evidence_answers_like_a_missing_one(
    app: FastAPI, db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant, other_tenant = make_tenant(db, settings), make_tenant(db, settings)
    mine = flagged_sat(db, settings, tenant.id)
    theirs = flagged_sat(db, settings, tenant.id)
    foreign = flagged_sat(db, settings, other_tenant.id)
    own_object, image = snapshot(app, db, mine)
    their_object, _ = snapshot(app, db, theirs)
    foreign_object, _ = snapshot(app, db, foreign)
    token = portal_token(db, settings, mine)
    neutral = client.get(f"/my/pt.{tenant.id.hex}.{'x' * 43}").content
    base = f"/my/{token}"
    page = client.get(f"{base}/attempts/{mine.attempt_id}")
    assert page.status_code == 200, page.text
    assert f"{base}/evidence/{own_object}" in page.text  # the snapshot behind the flag
    for attempt_id in (theirs.attempt_id, foreign.attempt_id, uuid.uuid4(), "not-an-id"):
        r = client.get(f"{base}/attempts/{attempt_id}")
        assert (r.status_code, r.content) == (404, neutral), attempt_id
    for object_id in (their_object, foreign_object, uuid.uuid4(), "x"):
        r = client.get(f"{base}/evidence/{object_id}")
        assert (r.status_code, r.content) == (404, neutral), object_id
    r = client.post(
        f"{base}/attempts/{theirs.attempt_id}/contest", data={"text": "x", "target": "outcome"}
    )
    assert (r.status_code, r.content) == (404, neutral)
    got = client.get(f"{base}/evidence/{own_object}")
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/jpeg"
    with db.unit_of_work(tenant.id) as uow:
        seen = list(
            uow.scalars(select(AuditEvent).where(AuditEvent.action == "portal.evidence_viewed"))
        )
    assert [e.subject_id for e in seen] == [str(own_object)]
    assert set(seen[0].payload) == {"attempt_id", "portal_link_id", "kind"}
    assert seen[0].actor_kind == "candidate"


def test_a_result_is_shown_only_once_released(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    exam_id = make_release_exam(db, tenant.id, results_release="manual")
    sat = sit(db, settings, tenant.id, exam_id)
    token = portal_token(db, settings, sat)
    page = client.get(f"/my/{token}/attempts/{sat.attempt_id}")
    assert page.status_code == 200
    assert "You scored" not in page.text and "not released to you yet" in page.text
    assert "not released yet" in client.get(f"/my/{token}").text
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "ar"], None)
    arabic = client.get(f"/my/{token}?lang=ar")
    assert '<html lang="ar" dir="rtl">' in arabic.text and "بياناتك" in arabic.text
    with db.unit_of_work(tenant.id, Actor("user", str(uuid.uuid4()))) as uow:
        row = release.release_one(uow, sat.attempt_id)
        result_link.mail_release(uow, link_kit(settings), row.id)
        sent = uow.scalar(select(OutboxMail).where(OutboxMail.subject.startswith("Your result")))
        assert sent is not None and f"/portal/{tenant.slug}" in sent.body  # the result mail
    page = client.get(f"/my/{token}/attempts/{sat.attempt_id}")
    assert "You scored" in page.text


def contest(client: TestClient, token: str, sat: Sat, target: str, **files: Any) -> Any:
    data = {"text": files.pop("text", "I was reading the instructions."), "target": target}
    return client.post(
        f"/my/{token}/attempts/{sat.attempt_id}/contest",
        data=data,
        files=files or None,
        follow_redirects=False,
    )


def test_a_contest_inside_the_window_is_written_once_and_anchored(
    db: BoundDatabase, settings: Settings, client: TestClient, app: FastAPI
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, sat)
    flag = flag_of(db, sat)
    sent = contest(client, token, sat, str(flag.id), attachment=("note.pdf", PDF, "text/plain"))
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].endswith(f"?sent=1#flag-{flag.id}")
    again = contest(client, token, sat, str(flag.id))
    assert again.status_code == 409 and "already sent an explanation" in again.text
    outcome = contest(client, token, sat, "outcome", text="  ")
    assert outcome.status_code == 422 and 'href="#text-outcome"' in outcome.text
    assert contest(client, token, sat, "outcome").status_code == 303
    with db.unit_of_work(tenant.id) as uow:
        # one transaction: the same created_at; the flag's first here
        rows = sorted(contests.of_attempt(uow, sat.attempt_id), key=lambda r: r.action_id is None)
        assert [r.action_id for r in rows] == [flag.id, None]
        attachment = uow.get(EvidenceObject, rows[0].attachment_id)
        assert (attachment.kind, attachment.content_type) == (
            "contest_attachment",
            "application/pdf",
        )
        assert attachment.subject_id == str(sat.attempt_id)
        entries = list(
            uow.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "proctoring.contested")
                .order_by(AuditEvent.seq)
            )
        )
        assert len(entries) == 2
        assert "text" not in entries[0].payload and "I was" not in str(entries[0].payload)
        assert entries[0].payload["anchor"]["sha256"] == rows[0].sha256
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit, _sources())
    assert report.ok, report.problems
    page = client.get(f"/my/{token}/attempts/{sat.attempt_id}?sent=1")
    assert "I was reading the instructions." in page.text
    assert f"/my/{token}/evidence/{rows[0].attachment_id}" in page.text
    pdf = client.get(f"/my/{token}/evidence/{rows[0].attachment_id}")
    assert pdf.status_code == 200 and pdf.content == PDF


def test_no_contest_outside_the_window(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, sat)
    flag = flag_of(db, sat)
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        assert attempt.submitted_at is not None
        attempt.submitted_at -= timedelta(days=8)  # the default window is 7 days
    closed = contest(client, token, sat, str(flag.id))
    assert closed.status_code == 409 and "The time to contest has ended" in closed.text
    # a window of 0 days in the version the attempt froze: no window at all
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        doc = policy.DEFAULT.as_json() | {"contest_window_days": 0}
        frozen = policy.set_policy(uow, doc, reason="no contests")
        attempt = uow.get(Attempt, sat.attempt_id)
        attempt.submitted_at = datetime.now(UTC)
        attempt.retention_version = frozen.version
        assert contests.window_ends(uow, attempt) is None
        policy.set_policy(uow, policy.DEFAULT.as_json(), reason="back to 7 days")
        assert contests.window_ends(uow, attempt) is None  # the frozen version counts
    assert contest(client, token, sat, str(flag.id)).status_code == 409
    with db.unit_of_work(tenant.id) as uow:
        assert contests.of_attempt(uow, sat.attempt_id) == []


def test_attachments_are_sniffed_and_limited(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, sat)
    flag = str(flag_of(db, sat).id)
    fake = contest(
        client, token, sat, flag, attachment=("x.pdf", b"MZ\x90\x00" * 50, "application/pdf")
    )
    assert fake.status_code == 415 and "JPEG or PNG picture or a PDF" in fake.text
    assert f'href="#attachment-{flag}"' in fake.text
    big = jpeg(5 * 1024 * 1024 + 10)
    large = contest(client, token, sat, flag, attachment=("big.jpg", big, "image/jpeg"))
    assert large.status_code == 413 and "at most 5 MB" in large.text
    long = contest(client, token, sat, flag, text="x" * (contests.MAX_TEXT + 1))
    assert long.status_code == 422 and "too long" in long.text
    with db.unit_of_work(tenant.id) as uow:
        assert contests.of_attempt(uow, sat.attempt_id) == []
        assert uow.scalar(
            select(EvidenceObject).where(EvidenceObject.kind == "contest_attachment")
        ) is None  # fmt: skip
    ok = contest(client, token, sat, flag, attachment=("me.jpg", jpeg(4000), "image/jpeg"))
    assert ok.status_code == 303


def decide(db: BoundDatabase, sat: Sat, reviewer: uuid.UUID, scope: str, decision: str) -> Any:
    with db.unit_of_work(sat.tenant_id, Actor("user", str(reviewer))) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        review = reviews.load(uow, attempt)
        if scope == "flag":
            f = review.flags[0]
            current = f.decision.id if f.decision else None
            request = reviews.Decide("flag", decision, "seen on the snapshot", f.id, current)
        else:
            current = review.outcome.current.id if review.outcome.current else None
            request = reviews.Decide("outcome", decision, "decided", supersedes=current)
        return reviews.decide(uow, sat.attempt_id, request)


def test_a_fail_is_not_final_while_the_window_is_open_and_final_after(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    reviewer = make_user(db, tenant.id, ["tenant_admin"]).id
    decide(db, sat, reviewer, "flag", "confirmed")
    decide(db, sat, reviewer, "outcome", "violation_fail")
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        assert attempt.review_outcome == "violation_fail" and not attempt.review_final
        outcome = reviews.load(uow, attempt).outcome
        assert outcome.held and not outcome.final and not outcome.awaiting_second
        assert outcome.held_until == contests.window_ends(uow, attempt)
        entry = uow.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "review.decided")
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        assert entry is not None and entry.payload["held"] and not entry.payload["final"]
        assert not reviews.finalise(uow, attempt)  # the window is open
    # the candidate contests the outcome; the window closes; still held: unanswered
    token = portal_token(db, settings, sat)
    assert contest(client, token, sat, "outcome").status_code == 303
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        attempt.submitted_at = datetime.now(UTC) - timedelta(days=8)
        assert not reviews.finalise(uow, attempt)
        assert reviews.load(uow, attempt).outcome.held_until is None
    # the reviewer answers it with a new outcome decision: final at once (window closed)
    row = decide(db, sat, reviewer, "outcome", "violation_fail")
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        answered = contests.of_attempt(uow, sat.attempt_id)[0]
        assert row.answers == answered.id and attempt.review_final
    page = client.get(f"/my/{token}/attempts/{sat.attempt_id}")
    assert "The reviewer's answer:" in page.text and "This outcome is final." in page.text


def test_the_job_makes_a_held_fail_final_once_the_window_closed(
    database: Any, settings: Settings
) -> None:
    from invigil.proctoring.jobs import finalise_held

    tenant = make_tenant(database, settings)
    sat = flagged_sat(database, settings, tenant.id)
    reviewer = make_user(database, tenant.id, ["tenant_admin"]).id
    decide(database, sat, reviewer, "flag", "confirmed")
    decide(database, sat, reviewer, "outcome", "violation_invalidate")
    finalise_held(database)
    with database.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        assert not attempt.review_final  # the window is open
        attempt.submitted_at = datetime.now(UTC) - timedelta(days=8)
    assert finalise_held(database) >= 1
    with database.unit_of_work(tenant.id) as uow:
        assert uow.get(Attempt, sat.attempt_id).review_final
        done = uow.scalar(select(AuditEvent).where(AuditEvent.action == "review.finalised"))
        assert done is not None and done.subject_id == str(sat.attempt_id)


def test_the_review_page_and_queue_show_the_contest(
    app: FastAPI, db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    token = portal_token(db, settings, sat)
    flag = flag_of(db, sat)
    text = "My cat walked over the keyboard."
    assert contest(client, token, sat, str(flag.id), text=text).status_code == 303
    staff, _ = web_client(app, db, tenant.id, ["tenant_admin"])
    page = staff.get(f"/proctoring/reviews/{sat.attempt_id}")
    assert page.status_code == 200
    assert text in page.text and "Not answered yet." in page.text
    queue = staff.get("/proctoring/reviews")
    assert "1 contest to answer" in queue.text
    api = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    body = client.get(f"/api/v1/reviews/{sat.attempt_id}", headers=api).json()
    assert [(c["action_id"], c["text"], c["answered_by"]) for c in body["contests"]] == [
        (str(flag.id), text, None)
    ]
    queued = client.get("/api/v1/reviews/queue", headers=api).json()["items"]
    assert [i["contests_to_answer"] for i in queued] == [1]
    reviewer = make_user(db, tenant.id, ["tenant_admin"]).id
    row = decide(db, sat, reviewer, "flag", "dismissed")
    body = client.get(f"/api/v1/reviews/{sat.attempt_id}", headers=api).json()
    assert body["contests"][0]["answered_by"] == str(row.id)
    assert body["flags"][0]["decision"]["answers"] == body["contests"][0]["id"]
    with db.unit_of_work(tenant.id) as uow:
        assert (
            uow.get(ReviewDecision, row.id).answers
            == contests.of_attempt(uow, sat.attempt_id)[0].id
        )
        entry = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "review.decided", AuditEvent.subject_id == str(row.id)
            )
        )
        assert entry is not None and entry.payload["answers"] == str(row.answers)
    page = staff.get(f"/proctoring/reviews/{sat.attempt_id}")
    assert "Answered by the decision of" in page.text
    mine = client.get(f"/my/{token}/attempts/{sat.attempt_id}")
    assert "seen on the snapshot" in mine.text and "Dismissed: a false alarm" in mine.text


def test_staff_see_and_revoke_the_portal_link(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    sat = flagged_sat(db, settings, tenant.id)
    portal_token(db, settings, sat)
    cid = candidate_of(db, sat).id
    staff, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    page = staff.get(f"/candidates/{cid}/portal-link")
    assert page.status_code == 200 and "Revoke the link" in page.text
    done = staff.post(f"/candidates/{cid}/portal-link/revoke", data={"csrf": csrf})
    assert done.status_code == 303
    again = staff.post(f"/candidates/{cid}/portal-link/revoke", data={"csrf": csrf})
    assert again.status_code == 409 and "no live portal link" in again.text
    missing = staff.get(f"/candidates/{uuid.uuid4()}/portal-link")
    other = make_tenant(db, settings)
    foreign = candidate_of(db, flagged_sat(db, settings, other.id)).id
    theirs = staff.get(f"/candidates/{foreign}/portal-link")
    assert missing.status_code == theirs.status_code == 404
    revoke_theirs = staff.post(f"/candidates/{foreign}/portal-link/revoke", data={"csrf": csrf})
    assert revoke_theirs.status_code == 404


def test_contests_are_in_the_anchored_records(db: BoundDatabase, settings: Settings) -> None:
    assert any(s.kind == "proctoring_contest" for s in _sources())
    assert Contest.__tablename__ == "proctoring_contests"
