"""The server re-checks every webcam snapshot, because the candidate controls
the browser (docs/proctoring.md, "Server re-checks").

A job per snapshot (:data:`TASK` on queue ``recheck``, deferred in the
upload's transaction) decrypts it, reads it (:mod:`invigil.proctoring.faces`)
and compares the server's face count with what the client reported for that
moment (:func:`client_claim`):

- too dark or blurred: ``unreadable``, and a server ``detector.failed``
  event, never a violation by itself;
- the server sees none or several faces where the client reported otherwise,
  or while the client's face detector was down: ``mismatch``, a server
  ``face.mismatch`` event, and the policy decides (every preset with a
  camera flags it);
- a client stricter than the server (it reported none or several, the server
  sees one): ``mismatch`` on the snapshot, but no event: nothing was hidden;
- otherwise ``agrees``; bytes that cannot be read: ``failed``.

Each outcome is one unit of work with its audit entry (``proctoring.rechecked``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from invigil import audit
from invigil.db import signals
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Gone
from invigil.evidence import service
from invigil.evidence.crypto import Corrupt
from invigil.evidence.service import Evidence
from invigil.logs import get_logger
from invigil.proctoring import pipeline
from invigil.proctoring import policy as pol
from invigil.proctoring.models import ProctoringEvent, Snapshot

if TYPE_CHECKING:  # OpenCV loads in the job only, not in every web process
    from invigil.proctoring import faces

log = get_logger(__name__)

TASK = "invigil:proctoring.recheck_snapshot"
QUEUE = "recheck"
# Without a count from the client, its face events are the claim; they start
# once a condition has lasted the policy's threshold (dated back to when it
# began) and travel in batches, so the check waits this long past the threshold.
SETTLE_SECONDS = 20.0
CLIENT_FACE_KINDS = ("face.none", "face.multiple", "detector.failed")


def defer(uow: UnitOfWork, snapshot: Snapshot, delay_seconds: float = 0) -> int:
    """Queue the re-check in this transaction (it exists only if we commit),
    ``delay_seconds`` from now."""
    at = datetime.now(UTC) + timedelta(seconds=delay_seconds) if delay_seconds > 0 else None
    return uow.defer(
        TASK, queue=QUEUE, at=at, tenant_id=str(uow.tenant), snapshot_id=str(snapshot.id)
    )


def settle_seconds(policy: pol.Policy) -> float:
    return policy.face_persist_seconds + SETTLE_SECONDS


# --- what the client said ---------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """The client's face count for a moment: from the snapshot itself
    (``snapshot``), from its face events (``events``), none because its face
    detector was down (``detector_down``, with the client's ``reason``) or
    because the policy runs no face detector (``not_asked``)."""

    faces: int | None
    source: str
    reason: str | None = None


def client_claim(uow: UnitOfWork, attempt: Attempt, snapshot: Snapshot) -> Claim:
    if not pipeline.policy_of(attempt).detectors.face:
        return Claim(None, "not_asked")
    if snapshot.client_faces is not None:
        return Claim(snapshot.client_faces, "snapshot")
    open_ = _open_episodes(uow, attempt.id, snapshot.taken_at)
    down = [e for e in open_ if e.kind == "detector.failed"]
    if down:
        return Claim(None, "detector_down", str(down[0].details.get("reason") or "unknown"))
    kinds = {e.kind for e in open_}
    if "face.multiple" in kinds:
        return Claim(2, "events")
    if "face.none" in kinds:
        return Claim(0, "events")
    return Claim(1, "events")  # no condition reported: one face, as the exam expects


def _open_episodes(uow: UnitOfWork, attempt_id: uuid.UUID, at: datetime) -> list[ProctoringEvent]:
    """The client's face episodes (and face-detector failures) open at ``at``."""
    starts = uow.scalars(
        select(ProctoringEvent).where(
            ProctoringEvent.attempt_id == attempt_id,
            ProctoringEvent.seq > 0,
            ProctoringEvent.phase == "start",
            ProctoringEvent.kind.in_(CLIENT_FACE_KINDS),
            ProctoringEvent.at <= at,
            or_(
                ProctoringEvent.kind != "detector.failed",
                ProctoringEvent.details["detector"].astext == "face",
            ),
        )
    )
    if not starts:
        return []
    ended = set(
        uow.session.scalars(
            select(ProctoringEvent.ends).where(
                and_(
                    ProctoringEvent.attempt_id == attempt_id,
                    ProctoringEvent.seq > 0,
                    ProctoringEvent.phase == "end",
                    ProctoringEvent.ends.in_([s.seq for s in starts]),
                    ProctoringEvent.at < at,
                )
            )
        )
    )
    return [s for s in starts if s.seq not in ended]


# --- judging ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    status: str  # agrees | mismatch
    violation: bool  # record face.mismatch and let the policy act


def _bucket(n: int) -> int:
    return min(n, 2)  # none, one, several


def judge(claim: Claim, server_faces: int) -> Verdict:
    """Compare the server's count with the client's claim. Only a
    disagreement in which the server sees what an exam must not show (no
    face, several faces) is a violation: a client stricter than the server
    hid nothing."""
    server = _bucket(server_faces)
    if claim.source == "not_asked":
        return Verdict("agrees", False)
    if claim.faces is None:  # the client's detector was down: the server judges alone
        return Verdict("agrees", False) if server == 1 else Verdict("mismatch", True)
    if _bucket(claim.faces) == server:
        return Verdict("agrees", False)
    return Verdict("mismatch", server != 1)


# --- the job ------------------------------------------------------------------


def recheck(
    uow: UnitOfWork,
    evidence: Evidence,
    snapshot_id: uuid.UUID,
    now: datetime | None = None,
    counter: faces.FaceCounter | None = None,
) -> Snapshot:
    """Re-check one snapshot (once: a checked snapshot is left as it is)."""
    from invigil.proctoring import faces

    now = now or datetime.now(UTC)
    snapshot = uow.session.get(Snapshot, (uow.tenant, snapshot_id), with_for_update=True)
    if snapshot is None:
        raise LookupError(f"snapshot {snapshot_id} was not found")
    if snapshot.server_status != "pending":
        return snapshot
    try:
        reading = faces.read(service.read_all(uow, evidence, snapshot.object_id), counter)
    except (faces.Undecodable, Corrupt, Gone) as exc:
        return _failed(uow, snapshot, exc, now)
    attempt = uow.session.get(
        Attempt, (uow.tenant, snapshot.attempt_id), with_for_update=True, populate_existing=True
    )
    assert attempt is not None  # attempts are never deleted
    snapshot.brightness, snapshot.sharpness = reading.brightness, reading.sharpness
    snapshot.server_faces, snapshot.checked_at = reading.faces, now
    signals.attempt_changed(uow, attempt.id)  # the consoles' face count
    claim: Claim | None = None
    seq: int | None = None
    if reading.faces is None:
        snapshot.server_status = "unreadable"
        seq = _record(uow, attempt, snapshot, "detector.failed", now, reason=reading.problem)
        if attempt.status != "in_progress":
            _decide(uow, attempt, now)
        # else the next heartbeat decides, so a warning reaches the candidate
    else:
        claim = client_claim(uow, attempt, snapshot)
        verdict = judge(claim, reading.faces)
        snapshot.server_status = verdict.status
        if verdict.violation:
            seq = _record(
                uow,
                attempt,
                snapshot,
                "face.mismatch",
                now,
                client=claim.faces,
                server=reading.faces,
                claim=claim.source,
                detector=reading.detector,
                **_down(claim),
            )
            _decide(uow, attempt, now)
    uow.flush()
    summary = _summary(snapshot, reading, claim, seq)
    if seq is not None and attempt.status == "submitted":
        summary["anchor"] = pipeline.stream_anchor(uow, attempt.id)  # the sealed stream grew
    audit.record(uow, "proctoring.rechecked", attempt, summary)
    return snapshot


def _down(claim: Claim) -> dict[str, Any]:
    if claim.source != "detector_down":
        return {}
    return {"client_detector": "down", "client_reason": claim.reason}


def _record(
    uow: UnitOfWork,
    attempt: Attempt,
    snapshot: Snapshot,
    kind: str,
    now: datetime,
    **details: Any,
) -> int:
    """A server episode at the moment of the snapshot: a start and its end."""
    body = {"source": "server", **details, "snapshot_id": str(snapshot.id)}
    start = pipeline.server_event(
        uow, attempt, kind, "start", snapshot.taken_at, details=body, received_at=now
    )
    pipeline.server_event(
        uow,
        attempt,
        kind,
        "end",
        snapshot.taken_at,
        ends=start,
        details={"source": "server", "snapshot_id": str(snapshot.id)},
        received_at=now,
    )
    return start


def _decide(uow: UnitOfWork, attempt: Attempt, now: datetime) -> None:
    """Apply the policy; a submitted attempt is judged as of its submission
    (its open episodes ended there)."""
    at = min(now, attempt.submitted_at) if attempt.submitted_at else now
    pipeline.evaluate(uow, attempt, at)


def _summary(
    snapshot: Snapshot, reading: faces.Reading, claim: Claim | None, seq: int | None
) -> dict[str, Any]:
    return {
        "snapshot": str(snapshot.id),
        "object": str(snapshot.object_id),
        "taken_at": snapshot.taken_at.isoformat(),
        "status": snapshot.server_status,
        "client_faces": claim.faces if claim else snapshot.client_faces,
        "claim": claim.source if claim else None,
        "server_faces": reading.faces,
        "problem": reading.problem,
        "brightness": reading.brightness,
        "sharpness": reading.sharpness,
        "detector": reading.detector,
        "event": seq,
    }


def _failed(uow: UnitOfWork, snapshot: Snapshot, exc: Exception, now: datetime) -> Snapshot:
    log.warning(
        "proctoring.recheck_failed",
        snapshot=str(snapshot.id),
        error=type(exc).__name__,
        detail=str(exc)[:200],
    )
    snapshot.server_status, snapshot.checked_at = "failed", now
    uow.flush()
    audit.record(
        uow,
        "proctoring.rechecked",
        ("attempt", snapshot.attempt_id),
        {
            "snapshot": str(snapshot.id),
            "object": str(snapshot.object_id),
            "status": "failed",
            "client_faces": snapshot.client_faces,
            "server_faces": None,
            "error": f"{type(exc).__name__}: {str(exc)[:200]}",
        },
    )
    return snapshot


def run(db: Database, evidence: Evidence, tenant_id: uuid.UUID, snapshot_id: uuid.UUID) -> str:
    """The job: one snapshot, in one unit of work bound to its tenant."""
    with db.unit_of_work(tenant_id, Actor.system("proctoring.recheck")) as uow:
        status = recheck(uow, evidence, snapshot_id).server_status
    log.info("proctoring.rechecked", snapshot=str(snapshot_id), status=status)
    return status
