"""The server's re-check of webcam snapshots: it counts the faces itself and
catches a client that says otherwise; dark or blurred pictures are a
detector failure, never a violation. Snapshots go through the candidate's
upload endpoint, as the browser sends them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from invigil.audit.anchored import verify_records
from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.evidence.service import Evidence
from invigil.jobs.queue import make_app
from invigil.proctoring import faces, recheck
from invigil.proctoring.models import ProctoringAction, ProctoringEvent, Snapshot
from invigil.proctoring.recheck import Claim, Verdict, judge
from invigil.proctoring.records import SOURCES as PROCTORING
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begun, invited
from tests.evidence.factories import jpeg, make_evidence, sha, webm
from tests.proctoring import snapshots
from tests.proctoring.test_pipeline import Chain, send

DETECTORS = ["haar"] + (["yunet"] if faces.detector().name == "yunet" else [])


@pytest.fixture
def evidence(app: FastAPI, tmp_path: Path) -> Evidence:
    ev = make_evidence(tmp_path)
    app.state.services.evidence = ev
    return ev


class Candidate:
    """A browser on a begun attempt: it uploads snapshots and sends events."""

    def __init__(
        self,
        app: FastAPI,
        db: BoundDatabase,
        settings: Settings,
        tenant_id: uuid.UUID | None = None,
        **exam: Any,
    ) -> None:
        if tenant_id is None:
            made, self.token = invited(db, settings, **exam)
        else:  # another candidate of the same organisation
            exam_ = exam_with_every_type(db, tenant_id, settings=exam)
            made = make_invitation(db, tenant_id, kit_for(settings), exam_)
            self.token = token_of(made)
        self.tenant_id: uuid.UUID = made.invitation.tenant_id
        self.client, state = begun(app, self.token)
        self.attempt_id = uuid.UUID(state["attempt_id"])
        self.chain = Chain(state["attempt_id"])
        self.api = f"/take/{self.token}/api"

    def snapshot(self, data: bytes, **params: Any) -> httpx.Response:
        r: httpx.Response = self.client.post(
            f"{self.api}/evidence/snapshot", content=data, params=params
        )
        return r

    def snap(self, data: bytes, **params: Any) -> uuid.UUID:
        r = self.snapshot(data, **params)
        assert r.status_code == 201, r.text
        return uuid.UUID(r.json()["snapshot"]["id"])

    def events(self, *events: dict[str, Any]) -> dict[str, Any]:
        return send(self.client, self.token, *events)


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def check(db: Database, who: Candidate, evidence: Evidence, snapshot_id: uuid.UUID) -> Snapshot:
    """What the job does (without the job runner), then the snapshot as stored."""
    status = recheck.run(db, evidence, who.tenant_id, snapshot_id)
    with db.unit_of_work(who.tenant_id) as uow:
        snapshot = uow.get(Snapshot, snapshot_id)
    assert snapshot.server_status == status
    return snapshot


def server_events(db: Database, who: Candidate) -> list[ProctoringEvent]:
    with db.unit_of_work(who.tenant_id) as uow:
        return uow.scalars(
            select(ProctoringEvent)
            .where(ProctoringEvent.attempt_id == who.attempt_id, ProctoringEvent.seq < 0)
            .order_by(ProctoringEvent.seq.desc())
        )


def actions(db: Database, who: Candidate) -> list[ProctoringAction]:
    with db.unit_of_work(who.tenant_id) as uow:
        return uow.scalars(
            select(ProctoringAction).where(ProctoringAction.attempt_id == who.attempt_id)
        )


def integrity(db: Database, who: Candidate) -> str:
    with db.unit_of_work(who.tenant_id) as uow:
        return uow.get(Attempt, who.attempt_id).integrity


def audited(db: Database, who: Candidate, action: str) -> list[AuditEvent]:
    with db.unit_of_work(who.tenant_id) as uow:
        return uow.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.subject_id == str(who.attempt_id))
            .order_by(AuditEvent.seq)
        )


@pytest.fixture
def standard(app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence) -> Candidate:
    return Candidate(app, db, settings, proctoring_preset="standard")


@pytest.fixture
def recorded(app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence) -> Candidate:
    """A candidate whose consent covers the ID photo and the screen as well."""
    return Candidate(app, db, settings, proctoring_preset="high_stakes")


# --- the pictures -------------------------------------------------------------


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize(
    ("picture", "count"),
    [(snapshots.one_face, 1), (snapshots.two_faces, 2), (snapshots.no_face, 0)],
    ids=["one", "two", "none"],
)
def test_the_server_counts_the_faces(name: str, picture: Any, count: int) -> None:
    counter = faces.detector(name)
    for quality, width in ((80, 640), (60, 320)):
        image = getattr(snapshots, picture.__name__ + "_image")()
        reading = faces.read(snapshots.to_jpeg(image, quality, width), counter)
        assert (reading.faces, reading.problem, reading.detector) == (count, None, name)


def test_dark_and_blurred_pictures_are_unreadable() -> None:
    dark, blurred = faces.read(snapshots.dark()), faces.read(snapshots.blurred())
    assert (dark.problem, dark.faces) == ("too_dark", None)
    assert dark.brightness < faces.MIN_BRIGHTNESS
    assert (blurred.problem, blurred.faces) == ("blurred", None)
    assert blurred.sharpness < faces.MIN_SHARPNESS < faces.read(snapshots.one_face()).sharpness


def test_what_is_not_a_picture_is_refused_before_decoding() -> None:
    with pytest.raises(faces.Undecodable):
        faces.read(jpeg(20_000))  # JPEG magic, then noise
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (60_000).to_bytes(4, "big") * 2
    with pytest.raises(faces.Undecodable, match="60000x60000"):
        faces.read(huge)


# --- the rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "server", "verdict"),
    [
        (Claim(1, "snapshot"), 1, Verdict("agrees", False)),
        (Claim(1, "snapshot"), 2, Verdict("mismatch", True)),
        (Claim(1, "snapshot"), 0, Verdict("mismatch", True)),
        (Claim(1, "events"), 3, Verdict("mismatch", True)),
        (Claim(0, "snapshot"), 2, Verdict("mismatch", True)),  # face.none masking two faces
        (Claim(2, "events"), 5, Verdict("agrees", False)),
        (Claim(0, "events"), 0, Verdict("agrees", False)),
        (Claim(2, "snapshot"), 1, Verdict("mismatch", False)),  # stricter client: nothing hidden
        (Claim(None, "detector_down"), 2, Verdict("mismatch", True)),
        (Claim(None, "detector_down"), 1, Verdict("agrees", False)),
        (Claim(None, "not_asked"), 2, Verdict("agrees", False)),
    ],
)
def test_only_what_the_client_hid_is_a_violation(
    claim: Claim, server: int, verdict: Verdict
) -> None:
    assert judge(claim, server) == verdict


# --- snapshots through the endpoint, re-checked --------------------------------


def test_a_client_that_says_one_face_while_two_are_in_view_is_flagged(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    taken = ago(5)
    sid = standard.snap(snapshots.two_faces(), taken_at=taken.isoformat(), faces=1)
    snap = check(db, standard, evidence, sid)
    assert (snap.server_status, snap.client_faces, snap.server_faces) == ("mismatch", 1, 2)
    assert snap.checked_at is not None and snap.brightness and snap.sharpness
    start, end = server_events(db, standard)
    assert (start.kind, start.phase, end.phase, end.ends) == (
        "face.mismatch",
        "start",
        "end",
        start.seq,
    )
    assert start.at == end.at == taken
    assert start.details | {"detector": "-"} == {
        "source": "server",
        "client": 1,
        "server": 2,
        "claim": "snapshot",
        "detector": "-",
        "snapshot_id": str(sid),
    }
    (flag,) = actions(db, standard)
    assert (flag.rule_id, flag.action, flag.episode_seq) == (
        "face-mismatch-flag",
        "flag",
        start.seq,
    )
    assert integrity(db, standard) == "flagged"
    (acted,) = audited(db, standard, "proctoring.action")
    assert acted.payload["rule"] == "face-mismatch-flag" and acted.payload["events"] == [start.seq]
    (entry,) = audited(db, standard, "proctoring.rechecked")
    assert entry.actor_kind == "system" and entry.actor_id == "proctoring.recheck"
    assert {
        k: entry.payload[k] for k in ("snapshot", "status", "client_faces", "server_faces")
    } == {
        "snapshot": str(sid),
        "status": "mismatch",
        "client_faces": 1,
        "server_faces": 2,
    }
    assert entry.payload["event"] == start.seq
    assert check(db, standard, evidence, sid).server_status == "mismatch"  # checked once
    assert (
        len(server_events(db, standard)) == 2
        and len(audited(db, standard, "proctoring.rechecked")) == 1
    )


def test_a_client_that_reports_no_face_events_is_caught_by_the_snapshots(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    sid = standard.snap(snapshots.two_faces(), taken_at=ago(60).isoformat())  # no count either
    snap = check(db, standard, evidence, sid)
    assert (snap.server_status, snap.client_faces, snap.server_faces) == ("mismatch", None, 2)
    (start, _) = server_events(db, standard)
    assert start.kind == "face.mismatch" and start.details["claim"] == "events"
    assert start.details["client"] == 1  # no face episode open: one face claimed
    assert integrity(db, standard) == "flagged"
    empty = standard.snap(snapshots.no_face(), taken_at=ago(50).isoformat())
    assert check(db, standard, evidence, empty).server_status == "mismatch"


def test_what_the_client_reported_for_that_moment_counts(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    chain = standard.chain
    t0 = ago(120)
    standard.events(
        chain.message("face.multiple", "start", t0, faces=2),
        chain.message("face.multiple", "end", t0 + timedelta(seconds=30), ends=1, faces=1),
        chain.message("face.none", "start", t0 + timedelta(seconds=60), faces=0),
    )
    during_multiple = standard.snap(
        snapshots.two_faces(), taken_at=(t0 + timedelta(seconds=10)).isoformat()
    )
    during_none = standard.snap(
        snapshots.no_face(), taken_at=(t0 + timedelta(seconds=70)).isoformat()
    )
    between = standard.snap(snapshots.one_face(), taken_at=(t0 + timedelta(seconds=40)).isoformat())
    for sid in (during_multiple, during_none, between):
        assert check(db, standard, evidence, sid).server_status == "agrees"
    assert server_events(db, standard) == []
    flags = [a for a in actions(db, standard) if a.kind == "face.mismatch"]
    assert flags == []
    after_the_episode = standard.snap(
        snapshots.two_faces(), taken_at=(t0 + timedelta(seconds=40)).isoformat()
    )
    assert check(db, standard, evidence, after_the_episode).server_status == "mismatch"


def test_agreement_records_no_event(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    sid = standard.snap(snapshots.one_face(), faces=1)
    snap = check(db, standard, evidence, sid)
    assert (snap.server_status, snap.server_faces) == ("agrees", 1)
    stricter = standard.snap(snapshots.one_face(), faces=2)  # the client saw two, the server one
    assert check(db, standard, evidence, stricter).server_status == "mismatch"
    assert server_events(db, standard) == [] and actions(db, standard) == []
    assert integrity(db, standard) == "clear"
    assert [e.payload["event"] for e in audited(db, standard, "proctoring.rechecked")] == [
        None,
        None,
    ]


def test_dark_and_blurred_snapshots_are_a_detector_failure_not_a_violation(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    dark = standard.snap(snapshots.dark(), faces=1)
    blurred = standard.snap(snapshots.blurred(), faces=1)
    assert check(db, standard, evidence, dark).server_status == "unreadable"
    snap = check(db, standard, evidence, blurred)
    assert (snap.server_status, snap.server_faces) == ("unreadable", None)
    found = [(e.kind, e.phase, e.details.get("reason")) for e in server_events(db, standard)]
    assert found == [
        ("detector.failed", "start", "too_dark"),
        ("detector.failed", "end", None),
        ("detector.failed", "start", "blurred"),
        ("detector.failed", "end", None),
    ]
    starts = [e for e in server_events(db, standard) if e.phase == "start"]
    assert [e.details["snapshot_id"] for e in starts] == [str(dark), str(blurred)]
    assert all(e.details["source"] == "server" for e in starts)
    assert actions(db, standard) == [] and integrity(db, standard) == "clear"
    # The next report from the browser decides: the candidate is told to fix the light.
    standard.events(standard.chain.message("clipboard.copy", "instant", ago(1)))
    assert {a.rule_id for a in actions(db, standard)} >= {"detector-failed-warn"}
    assert integrity(db, standard) == "clear"


def test_when_the_browsers_face_detector_is_down_the_server_judges(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    t0 = ago(100)
    standard.events(
        standard.chain.message(
            "detector.failed", "start", t0, detector="face", reason="model_load_failed"
        )
    )
    alone = standard.snap(snapshots.one_face(), taken_at=(t0 + timedelta(seconds=10)).isoformat())
    assert check(db, standard, evidence, alone).server_status == "agrees"
    crowd = standard.snap(snapshots.two_faces(), taken_at=(t0 + timedelta(seconds=20)).isoformat())
    assert check(db, standard, evidence, crowd).server_status == "mismatch"
    start, _ = server_events(db, standard)
    assert start.kind == "face.mismatch"
    assert start.details["client"] is None and start.details["server"] == 2
    assert (start.details["client_detector"], start.details["client_reason"]) == (
        "down",
        "model_load_failed",
    )
    assert integrity(db, standard) == "flagged"


def test_without_a_face_detector_in_the_policy_no_snapshot_is_taken(
    app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence
) -> None:
    """No camera was consented to, so there is nothing to re-check."""
    practice = Candidate(app, db, settings, proctoring_preset="practice")
    r = practice.snapshot(snapshots.two_faces(), faces=1)
    assert r.status_code == 403 and r.json()["type"].endswith(":not-consented")
    with db.unit_of_work(practice.tenant_id) as uow:
        assert uow.scalars(select(Snapshot)) == []
    assert server_events(db, practice) == []


def test_a_picture_that_cannot_be_decoded_fails_the_check(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    sid = standard.snap(jpeg(20_000), faces=1)
    snap = check(db, standard, evidence, sid)
    assert (snap.server_status, snap.server_faces, snap.checked_at is not None) == (
        "failed",
        None,
        True,
    )
    (entry,) = audited(db, standard, "proctoring.rechecked")
    assert entry.payload["status"] == "failed" and entry.payload["error"].startswith("Undecodable")
    assert server_events(db, standard) == [] and integrity(db, standard) == "clear"


def test_a_re_check_after_submission_judges_as_of_the_submission(
    db: BoundDatabase, standard: Candidate, evidence: Evidence
) -> None:
    # A face.none still open at submission lasted 30 s, not the 2 minutes
    # the standard preset flags, however late the re-check runs.
    standard.events(standard.chain.message("face.none", "start", ago(30), faces=0))
    sid = standard.snap(snapshots.two_faces(), faces=1)
    assert standard.client.post(f"{standard.api}/submit", json={}).status_code == 200
    with db.unit_of_work(standard.tenant_id, Actor.system("proctoring.recheck")) as uow:
        later = datetime.now(UTC) + timedelta(minutes=10)
        assert recheck.recheck(uow, evidence, sid, now=later).server_status == "mismatch"
    assert integrity(db, standard) == "flagged"
    rules = {a.rule_id for a in actions(db, standard)}
    assert "face-mismatch-flag" in rules and "face-none-flag" not in rules
    # The sealed stream grew by the server's finding and was anchored again:
    # it still verifies against its latest anchor.
    with db.unit_of_work(standard.tenant_id, Actor.operator()) as uow:
        checked = verify_records(uow, PROCTORING)
    assert checked.ok and checked.anchored >= 1, checked.problems


# --- the endpoint ---------------------------------------------------------------


def jobs(db: BoundDatabase, snapshot_id: uuid.UUID) -> list[Any]:
    with db.unit_of_work() as uow:
        return list(
            uow.session.execute(
                text(
                    "SELECT queue_name, task_name, status, scheduled_at FROM procrastinate_jobs"
                    " WHERE args->>'snapshot_id' = :s"
                ),
                {"s": str(snapshot_id)},
            )
        )


def test_the_snapshot_metadata_is_stored_and_the_check_queued_with_it(
    db: BoundDatabase, standard: Candidate
) -> None:
    taken = ago(3)
    r = standard.snapshot(
        snapshots.one_face(), taken_at=taken.isoformat(), reason="event", event_seq=4, faces=1
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "snapshot"
    assert body["snapshot"] | {"id": "-", "taken_at": "-"} == {
        "id": "-",
        "taken_at": "-",
        "reason": "event",
        "event_seq": 4,
        "faces": 1,
        "ref": None,
    }
    sid = uuid.UUID(body["snapshot"]["id"])
    with db.unit_of_work(standard.tenant_id) as uow:
        snap = uow.get(Snapshot, sid)
        assert (snap.attempt_id, snap.object_id) == (standard.attempt_id, uuid.UUID(body["id"]))
        assert (snap.taken_at, snap.reason, snap.event_seq) == (taken, "event", 4)
        assert (snap.client_faces, snap.server_status) == (1, "pending")
    assert jobs(db, sid) == [("recheck", recheck.TASK, "todo", None)]  # with a count: at once

    before = datetime.now(UTC)
    later = standard.snap(snapshots.one_face())  # no time, no count: now, and the check waits
    with db.unit_of_work(standard.tenant_id) as uow:
        snap = uow.get(Snapshot, later)
        assert (snap.reason, snap.client_faces) == ("periodic", None)
        assert before - timedelta(seconds=1) <= snap.taken_at <= datetime.now(UTC)
    ((_, _, _, scheduled),) = jobs(db, later)
    wait = (scheduled - before).total_seconds()
    assert recheck.SETTLE_SECONDS < wait <= recheck.SETTLE_SECONDS + 4  # 3 s persistence


def test_bad_metadata_stores_nothing_and_queues_nothing(
    db: BoundDatabase, standard: Candidate
) -> None:
    jobs = text(
        "SELECT coalesce(max(id), 0) FROM procrastinate_jobs"
        " WHERE task_name = :t AND args->>'tenant_id' = :tenant"
    )
    mine = {"t": recheck.TASK, "tenant": str(standard.tenant_id)}
    with db.unit_of_work(standard.tenant_id) as uow:
        before = uow.session.execute(text("SELECT count(*) FROM evidence_objects")).scalar()
        last_job = uow.session.execute(jobs, mine).scalar()
    for params in (
        {"taken_at": (datetime.now(UTC) + timedelta(minutes=10)).isoformat()},
        {"taken_at": "2026-11-29T10:00:00"},  # no time zone
        {"reason": "whim"},
        {"faces": -1},
        {"event_seq": 0},
    ):
        r = standard.snapshot(snapshots.one_face(), **params)
        assert r.status_code == 422, (params, r.text)
    with db.unit_of_work(standard.tenant_id) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM evidence_objects")).scalar() == before
        assert uow.scalars(select(Snapshot)) == []
        # Jobs are not tenant rows: count only this tenant's, queued since.
        assert uow.session.execute(jobs, mine).scalar() == last_job


def test_an_id_photo_is_no_snapshot(db: BoundDatabase, recorded: Candidate) -> None:
    r = recorded.client.post(f"{recorded.api}/evidence/id_photo", content=snapshots.one_face())
    assert r.status_code == 201 and "snapshot" not in r.json()
    with db.unit_of_work(recorded.tenant_id) as uow:
        assert uow.scalars(select(Snapshot)) == []


# --- recording segments ---------------------------------------------------------


def recording(who: Candidate) -> str:
    """A completed one-chunk recording upload of ``who``: its object id."""
    data = webm(40_000)
    upload = who.client.post(f"{who.api}/uploads", json={"kind": "recording_chunk"}).json()
    put = who.client.put(
        f"{who.api}/uploads/{upload['id']}/chunks/0",
        content=data,
        headers={"x-chunk-sha256": sha(data)},
    )
    assert put.status_code == 201, put.text
    done = who.client.post(f"{who.api}/uploads/{upload['id']}/complete")
    assert done.status_code == 200, done.text
    return str(done.json()["id"])


# Segments are dated in their attempt's window: from when the test first registers one.
_BASES: dict[uuid.UUID, datetime] = {}


def segment(who: Candidate, index: int, object_id: str, start: float = 0) -> httpx.Response:
    base = _BASES.setdefault(who.attempt_id, datetime.now(UTC).replace(microsecond=0))
    t0 = base + timedelta(seconds=start)
    r: httpx.Response = who.client.post(
        f"{who.api}/recording/segments",
        json={
            "segment_index": index,
            "object_id": object_id,
            "started_at": t0.isoformat(),
            "ended_at": (t0 + timedelta(seconds=5)).isoformat(),
        },
    )
    return r


def test_a_segment_is_registered_once_and_only_with_its_own_recording(
    db: BoundDatabase, recorded: Candidate
) -> None:
    first, second = recording(recorded), recording(recorded)
    r = segment(recorded, 0, first)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["segment_index"], body["object_id"]) == (0, first)
    base = _BASES[recorded.attempt_id]
    assert (body["started_at"], body["ended_at"]) == (
        base.isoformat().replace("+00:00", "Z"),
        (base + timedelta(seconds=5)).isoformat().replace("+00:00", "Z"),
    )
    again = segment(recorded, 0, first, start=1)  # a re-sent registration
    assert again.status_code == 200 and again.json() == body
    other = segment(recorded, 0, second)
    assert other.status_code == 409 and other.json()["object_id"] == first
    assert segment(recorded, 1, first).status_code == 409  # one object, one segment
    assert segment(recorded, 1, second, start=5).status_code == 201
    photo = recorded.snapshot(snapshots.one_face()).json()["id"]
    assert segment(recorded, 2, photo).status_code == 422  # not a recording
    backwards = recorded.client.post(
        f"{recorded.api}/recording/segments",
        json={
            "segment_index": 3,
            "object_id": second,
            "started_at": "2026-11-29T10:00:05Z",
            "ended_at": "2026-11-29T10:00:00Z",
        },
    )
    assert backwards.status_code == 422
    (entry, _) = audited(db, recorded, "proctoring.segment_registered")
    assert entry.payload["segment_index"] == 0 and entry.payload["object"] == first


def test_another_attempts_recording_is_not_found(
    app: FastAPI, db: BoundDatabase, settings: Settings, recorded: Candidate
) -> None:
    nobody = str(uuid.uuid4())
    missing = segment(recorded, 0, nobody)
    assert missing.status_code == 404
    for tenant_id in (recorded.tenant_id, None):  # a colleague's attempt, another tenant's
        theirs = recording(Candidate(app, db, settings, tenant_id, proctoring_preset="high_stakes"))
        stranger = segment(recorded, 0, theirs)
        assert stranger.status_code == 404
        same = stranger.json() | {"detail": stranger.json()["detail"].replace(theirs, nobody)}
        assert same == missing.json()  # the same answer, naming only the id that was sent


# --- through procrastinate's worker ---------------------------------------------


@pytest.mark.slow
def test_the_worker_re_checks_a_snapshot(
    app: FastAPI, db: BoundDatabase, standard: Candidate, database: Database
) -> None:
    """procrastinate's worker runs the task. The snapshot stays in the test's
    transaction (no committed evidence: test_keys re-wraps every tenant's
    keys under its own master key); the worker gets a committed copy of the
    job the upload queued, and the test's database through its context."""
    sid = standard.snap(snapshots.two_faces(), faces=1)
    worker = make_app(database.urls)
    args = {"tenant_id": str(standard.tenant_id), "snapshot_id": str(sid)}

    async def drain() -> int:
        async with worker.open_async():
            job_id = await worker.configure_task(recheck.TASK, queue=recheck.QUEUE).defer_async(
                **args
            )
            await worker.run_worker_async(
                queues=[recheck.QUEUE],
                wait=False,
                install_signal_handlers=False,
                additional_context={"db": db, "services": app.state.services},
            )
            return job_id

    job_id = asyncio.run(drain())
    with db.unit_of_work(standard.tenant_id) as uow:
        snap = uow.get(Snapshot, sid)
        assert (snap.server_status, snap.server_faces) == ("mismatch", 2)
        assert uow.get(Attempt, standard.attempt_id).integrity == "flagged"
    with database.unit_of_work() as uow:
        status = uow.session.execute(
            text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        ).scalar()
    assert status == "succeeded"


def test_a_snapshot_sent_again_under_its_ref_is_stored_once(
    db: BoundDatabase, standard: Candidate
) -> None:
    ref = str(uuid.uuid4())
    first = standard.snapshot(snapshots.one_face(), ref=ref, faces=1)
    assert first.status_code == 201, first.text
    again = standard.snapshot(snapshots.one_face(), ref=ref, faces=1)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["snapshot"] == first.json()["snapshot"]
    assert first.json()["snapshot"]["ref"] == ref
    other = standard.snapshot(snapshots.one_face(), ref=str(uuid.uuid4()), faces=1)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    with db.unit_of_work(standard.tenant_id) as uow:
        stored = uow.scalars(select(Snapshot).where(Snapshot.attempt_id == standard.attempt_id))
        assert len(stored) == 2
        objects = uow.session.execute(
            text("SELECT count(*) FROM evidence_objects WHERE subject_id = :a"),
            {"a": str(standard.attempt_id)},
        ).scalar()
        assert objects == 2
    bad = standard.snapshot(snapshots.one_face(), ref="not-a-uuid")
    assert bad.status_code == 422
