"""Data-subject requests: what a person asked of the tenant (a copy of their
data, its erasure, an objection, a correction), tracked until it is answered.

A request is recorded when it is received (``privacy.request_received``),
with the day it came in (today or earlier, never later) and the day it is
due: :data:`invigil.retention.policy.REQUEST_DUE_DAYS` days later. It ends
once, in one of two ways, each in the transaction that does the work:

- completed: an access request when its export is built
  (``privacy.export_built``, :mod:`invigil.retention.export`); an erasure
  when the purge erased the person (``invigil.retention.purge.erase_person``:
  what a legal hold kept is named, its receipts are listed); an objection or
  a rectification when staff write down what was done;
- refused, with the reason.

Either way the finished request is hashed as a canonical document
(:func:`request_document`) and anchored by its entry
(``privacy.request_completed`` or ``privacy.request_refused``); ``invigil
audit verify`` recomputes it (:data:`SOURCES`). Audit payloads carry ids,
kinds, dates and hashes, never a name, an e-mail or the words of a note.

The export of an access request is built by a job
(``retention.build_export``): asking queues it (``privacy.export_requested``),
the job claims it, streams the ZIP into the store and completes the request
in its own transaction; a failure is recorded with its reason
(``privacy.export_failed``) and can be asked again, as can a build whose
worker died (:data:`STALE_BUILD` after it started).

The export of an access request is kept in the tenant's regional store,
encrypted under the person's own data key: erasing the person later shreds
their export with the rest of their evidence. Every download is audited
(``privacy.export_downloaded``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from invigil import audit
from invigil.audit.anchored import Source, stream
from invigil.audit.records import Record, anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate, Invitation
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence import crypto
from invigil.evidence.keys import open_data_key
from invigil.evidence.service import Evidence
from invigil.i18n import N_
from invigil.retention.models import PrivacyRequest
from invigil.retention.policy import REQUEST_DUE_DAYS

RECEIVED = "privacy.request_received"
COMPLETED = "privacy.request_completed"
REFUSED = "privacy.request_refused"
EXPORT_BUILT = "privacy.export_built"
EXPORT_DOWNLOADED = "privacy.export_downloaded"
EXPORT_REQUESTED = "privacy.export_requested"
EXPORT_FAILED = "privacy.export_failed"
BUILD_EXPORT = "invigil:retention.build_export"  # as deferred (retention.jobs registers it)
EXPORT_STATES = ("queued", "building", "ready", "failed")
# A build that started this long ago and never finished (its worker died) may be asked again.
STALE_BUILD = timedelta(hours=1)
MAX_EXPORT_ERROR = 500
KIND = "privacy_request"

KINDS = ("access", "erasure", "objection", "rectification")
CHANNELS = ("email", "letter", "portal", "phone", "in_person", "other")
STATUSES = ("open", "completed", "refused")
MAX_NOTE = 1000
MAX_OUTCOME = 2000
MAX_EMAIL = 320
# How far back a request may be dated: a year (older ones were answered or lost).
MAX_AGE_DAYS = 366

# Marked N_ here, translated where a page shows them.
KIND_LABELS = {
    "access": N_("Access (a copy of their data)"),
    "erasure": N_("Erasure"),
    "objection": N_("Objection"),
    "rectification": N_("Rectification"),
}
CHANNEL_LABELS = {
    "email": N_("E-mail"),
    "letter": N_("Letter"),
    "portal": N_("Candidate portal"),
    "phone": N_("Phone"),
    "in_person": N_("In person"),
    "other": N_("Other"),
}
STATUS_LABELS = {"open": N_("Open"), "completed": N_("Completed"), "refused": N_("Refused")}


def _by(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:200]


def _text(value: object, field: str, limit: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text", field=field)
    text = value.strip()
    if required and not text:
        raise Invalid(f"{field} is required", field=field)
    if len(text) > limit:
        raise Invalid(f"{field} has at most {limit} characters", field=field)
    return text


def due_for(received: date) -> date:
    return received + timedelta(days=REQUEST_DUE_DAYS)


def today() -> date:
    return datetime.now(UTC).date()


def is_overdue(row: PrivacyRequest, on: date | None = None) -> bool:
    return row.status == "open" and row.due_at < (on or today())


def request_document(row: PrivacyRequest | Mapping[str, Any]) -> dict[str, Any]:
    """A finished request as its anchored document (rebuilt from the row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    def opt(value: Any) -> str | None:
        return str(value) if value is not None else None

    completed = get("completed_at")
    return {
        "id": str(get("id")),
        "candidate_id": str(get("candidate_id")),
        "kind": get("kind"),
        "received_at": get("received_at").isoformat(),
        "due_at": get("due_at").isoformat(),
        "channel": get("channel"),
        "note": get("note"),
        "received_by": get("received_by"),
        "status": get("status"),
        "outcome": get("outcome"),
        "completed_at": completed.astimezone(UTC).isoformat() if completed else None,
        "completed_by": get("completed_by"),
        "receipt_ids": sorted(str(r) for r in (get("receipt_ids") or [])),
        "kept": list(get("kept") or []),
        "export_object_id": opt(get("export_object_id")),
        "export_sha256": get("export_sha256"),
        "export_size": get("export_size"),
    }


def find_candidate(uow: UnitOfWork, email: object) -> Candidate:
    """The tenant's candidate with this e-mail (case-folded), else NotFound."""
    text = _text(email, "email", MAX_EMAIL, required=True)
    found = uow.scalar(select(Candidate).where(func.lower(Candidate.email) == text.lower()))
    if found is None:
        raise Invalid("no candidate of this organisation has this e-mail address", field="email")
    return found


def receive(
    uow: UnitOfWork,
    *,
    candidate_id: uuid.UUID,
    kind: object,
    received_at: date | None = None,
    channel: object = "email",
    note: object = "",
    on: date | None = None,
) -> PrivacyRequest:
    """Record a request received on ``received_at`` (default: today, UTC)."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of: {', '.join(KINDS)}", field="kind")
    if channel not in CHANNELS:
        raise Invalid(f"channel must be one of: {', '.join(CHANNELS)}", field="channel")
    text = _text(note, "note", MAX_NOTE, required=False)
    now = on or today()
    received = received_at or now
    if received > now:
        raise Invalid("a request cannot be received in the future", field="received_at")
    if received < now - timedelta(days=MAX_AGE_DAYS):
        raise Invalid(f"a request is dated at most {MAX_AGE_DAYS} days back", field="received_at")
    if not uow.scalar(select(Candidate.id).where(Candidate.id == candidate_id)):
        raise NotFound(f"candidate {candidate_id} was not found")
    row = PrivacyRequest(
        id=uuid.uuid4(), tenant_id=uow.tenant, candidate_id=candidate_id, kind=str(kind),
        received_at=received, due_at=due_for(received), channel=str(channel), note=text,
        received_by=_by(uow), status="open", receipt_ids=[],
    )  # fmt: skip
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        RECEIVED,
        (KIND, row.id),
        {
            "kind": row.kind,
            "candidate_id": candidate_id,
            "channel": row.channel,
            "received_at": received.isoformat(),
            "due_at": row.due_at.isoformat(),
        },
    )
    return row


def find(uow: UnitOfWork, request_id: uuid.UUID, *, lock: bool = False) -> PrivacyRequest | None:
    stmt = select(PrivacyRequest).where(PrivacyRequest.id == request_id)
    return uow.scalar(stmt.with_for_update() if lock else stmt)


def get(uow: UnitOfWork, request_id: uuid.UUID, *, lock: bool = False) -> PrivacyRequest:
    row = find(uow, request_id, lock=lock)
    if row is None:
        raise NotFound(f"privacy request {request_id} was not found")
    return row


def listing(
    uow: UnitOfWork, *, status: str | None = None, candidate_id: uuid.UUID | None = None,
    limit: int = 200,
) -> list[PrivacyRequest]:  # fmt: skip
    """Requests, open ones first by due date, then the finished newest first."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of: {', '.join(STATUSES)}", field="status")
    stmt = select(PrivacyRequest)
    if status is not None:
        stmt = stmt.where(PrivacyRequest.status == status)
    if candidate_id is not None:
        stmt = stmt.where(PrivacyRequest.candidate_id == candidate_id)
    stmt = stmt.order_by(
        (PrivacyRequest.status != "open"),
        PrivacyRequest.due_at,
        PrivacyRequest.created_at.desc(),
        PrivacyRequest.id,
    ).limit(limit)
    return list(uow.scalars(stmt))


def candidate_of(uow: UnitOfWork, row: PrivacyRequest) -> Candidate:
    found = uow.scalar(select(Candidate).where(Candidate.id == row.candidate_id))
    assert found is not None  # the composite foreign key keeps it
    return found


def held(uow: UnitOfWork, candidate_id: uuid.UUID) -> bool:
    """Whether a legal hold in force covers the person or an exam they were
    invited to (an erasure then keeps what it covers)."""
    from invigil.retention import holds

    now = holds.in_force(uow)
    if now.tenant or now.covers(candidate_id=candidate_id):
        return True
    exams = uow.scalars(select(Invitation.exam_id).where(Invitation.candidate_id == candidate_id))
    return any(now.covers(exam_id=e) for e in exams)


class NotOpen(Conflict):
    slug = "request-finished"


def _open(uow: UnitOfWork, request_id: uuid.UUID, kinds: tuple[str, ...]) -> PrivacyRequest:
    row = get(uow, request_id, lock=True)
    if row.status != "open":
        raise NotOpen(f"this request is {row.status} already: a request ends once")
    if row.kind not in kinds:
        raise Conflict(f"this is an {row.kind} request: the action is for {' or '.join(kinds)}")
    return row


def _finish(
    uow: UnitOfWork, row: PrivacyRequest, status: str, outcome: str, *, now: datetime | None
) -> PrivacyRequest:
    row.status, row.outcome = status, outcome
    row.completed_at = now or datetime.now(UTC)
    row.completed_by = _by(uow)
    row.sha256 = document_sha256(request_document(row))
    uow.flush()
    payload: dict[str, Any] = {
        "kind": row.kind,
        "candidate_id": row.candidate_id,
        "due_at": row.due_at.isoformat(),
        "late": row.completed_at.date() > row.due_at,
        "anchor": anchor(KIND, row.sha256),
    }
    if row.receipt_ids:
        payload["receipt_ids"] = sorted(str(r) for r in row.receipt_ids)
    if row.export_sha256:
        payload["export_sha256"] = row.export_sha256
    audit.record(uow, COMPLETED if status == "completed" else REFUSED, (KIND, row.id), payload)
    return row


def refuse(
    uow: UnitOfWork, request_id: uuid.UUID, reason: object, *, now: datetime | None = None
) -> PrivacyRequest:
    """Refuse an open request of any kind, saying why."""
    text = _text(reason, "reason", MAX_OUTCOME, required=True)
    row = _open(uow, request_id, KINDS)
    if row.export_state in ("queued", "failed"):  # nothing will be built for it now
        row.export_state, row.export_error = None, None
    return _finish(uow, row, "refused", text, now=now)


def complete(
    uow: UnitOfWork, request_id: uuid.UUID, outcome: object, *, now: datetime | None = None
) -> PrivacyRequest:
    """Complete an objection or a rectification, writing down what was done."""
    text = _text(outcome, "outcome", MAX_OUTCOME, required=True)
    row = _open(uow, request_id, ("objection", "rectification"))
    return _finish(uow, row, "completed", text, now=now)


@dataclass(frozen=True)
class Erasure:
    request: PrivacyRequest
    receipts: list[uuid.UUID]
    kept: list[str]


def erase(
    uow: UnitOfWork, evidence: Evidence, request_id: uuid.UUID, reason: object,
    *, now: datetime | None = None,
) -> Erasure:  # fmt: skip
    """Carry out an erasure request: the purge erases every class of the
    person's data now, except what a legal hold covers (named in ``kept``)
    and the audit log; its signed receipts are kept with the request."""
    text = _text(reason, "reason", MAX_OUTCOME, required=True)
    row = _open(uow, request_id, ("erasure",))
    # The purge (invigil.retention.purge) is written beside this module.
    from invigil.retention.purge import erase_person  # type: ignore[import-not-found,unused-ignore]

    erased = erase_person(uow, evidence, row.candidate_id, reason=text, request_id=row.id)
    # The purge emptied the request's own note (staff's words about the
    # person) in the database: the document anchored below must say so.
    uow.session.refresh(row)
    row.receipt_ids = list(erased.receipts)
    row.kept = list(erased.kept)
    _finish(uow, row, "completed", text, now=now)
    return Erasure(row, list(erased.receipts), list(erased.kept))


def queue_export(
    uow: UnitOfWork, request_id: uuid.UUID, *, now: datetime | None = None
) -> PrivacyRequest:
    """Ask for the access request's export: the job builds it. Refused while
    one is queued, or building and not yet :data:`STALE_BUILD` old."""
    row = _open(uow, request_id, ("access",))
    moment = now or datetime.now(UTC)
    if row.export_state == "queued":
        raise Conflict("the export is queued already: it is built within minutes")
    started = row.export_started_at
    if row.export_state == "building" and started is not None and moment - started < STALE_BUILD:
        raise Conflict("the export is being built: this page shows it once it is ready")
    row.export_state, row.export_error = "queued", None
    row.export_asked_at = moment
    uow.flush()
    uow.defer(BUILD_EXPORT, queue="maintenance", tenant_id=str(uow.tenant), request_id=str(row.id))
    audit.record(
        uow, EXPORT_REQUESTED, (KIND, row.id),
        {"candidate_id": row.candidate_id, "try": row.export_tries + 1},
    )  # fmt: skip
    return row


def claim_export(uow: UnitOfWork, request_id: uuid.UUID) -> bool:
    """The job's first, short transaction: queued -> building (False: nothing
    to build, e.g. the request was refused or another worker has it)."""
    row = find(uow, request_id, lock=True)
    if row is None or row.status != "open" or row.export_state != "queued":
        return False
    row.export_state, row.export_started_at = "building", datetime.now(UTC)
    row.export_tries += 1
    uow.flush()
    return True


def export_failed(uow: UnitOfWork, request_id: uuid.UUID, error: str) -> None:
    """Record why the build failed; the administrator can ask again."""
    row = find(uow, request_id, lock=True)
    if row is None or row.export_state != "building":
        return
    row.export_state = "failed"
    row.export_error = (error.strip() or "the build failed")[:MAX_EXPORT_ERROR]
    uow.flush()
    audit.record(
        uow, EXPORT_FAILED, (KIND, row.id),
        {"candidate_id": row.candidate_id, "try": row.export_tries},
    )  # fmt: skip


def build_export(
    uow: UnitOfWork, evidence: Evidence, request_id: uuid.UUID, *, now: datetime | None = None
) -> PrivacyRequest:
    """Build the access request's export (streamed into the store) and
    complete the request with it: the job's work, once it claimed it."""
    from invigil.retention import export

    row = _open(uow, request_id, ("access",))
    moment = now or datetime.now(UTC)
    built = export.build(uow, evidence, row, now=moment)
    row.export_state, row.export_error = "ready", None
    row.export_object_id, row.export_data_key_id = built.object_id, built.data_key_id
    row.export_region, row.export_store_key = built.region, built.store_key
    row.export_size, row.export_sha256 = built.size, built.sha256
    uow.flush()
    audit.record(
        uow,
        EXPORT_BUILT,
        (KIND, row.id),
        {
            "candidate_id": row.candidate_id,
            "object_id": built.object_id,
            "size": built.size,
            "sha256": built.sha256,
            "files": built.files,
            "erased_files": built.erased,
        },
    )
    return _finish(uow, row, "completed", "export built", now=moment)


def open_export(
    uow: UnitOfWork, evidence: Evidence, request_id: uuid.UUID
) -> tuple[PrivacyRequest, Iterator[bytes]]:
    """The export's bytes, decrypted from the store, audited as downloaded.
    An erased person's export answers Gone."""
    row = get(uow, request_id)
    if row.export_object_id is None:
        raise NotFound("this request has no export: build it first")
    assert row.export_data_key_id and row.export_region and row.export_store_key
    key = open_data_key(uow, evidence.master, row.export_data_key_id)
    source = evidence.stores.for_region(row.export_region).get(row.export_store_key)
    audit.record(
        uow,
        EXPORT_DOWNLOADED,
        (KIND, row.id),
        {"object_id": row.export_object_id, "size": row.export_size, "sha256": row.export_sha256},
    )
    return row, crypto.decrypt(key.secret, row.export_object_id, source)


def export_name(row: PrivacyRequest) -> str:
    return f"subject-export-{row.received_at.isoformat()}-{str(row.id)[:8]}.zip"


def as_dict(row: PrivacyRequest, on: date | None = None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "candidate_id": str(row.candidate_id),
        "kind": row.kind,
        "received_at": row.received_at.isoformat(),
        "due_at": row.due_at.isoformat(),
        "overdue": is_overdue(row, on),
        "channel": row.channel,
        "note": row.note,
        "status": row.status,
        "outcome": row.outcome,
        "completed_at": row.completed_at.isoformat() if row.completed_at else None,
        "completed_by": row.completed_by,
        "receipt_ids": [str(r) for r in row.receipt_ids or []],
        "kept": list(row.kept or []),
        "export_state": row.export_state,
        "export_asked_at": row.export_asked_at.isoformat() if row.export_asked_at else None,
        "export_error": row.export_error,
        "export": (
            {
                "object_id": str(row.export_object_id),
                "size": row.export_size,
                "sha256": row.export_sha256,
                "download": f"/api/v1/privacy/requests/{row.id}/export",
            }
            if row.export_object_id
            else None
        ),
        "sha256": row.sha256,
    }


# -- verification -------------------------------------------------------------

_FIELDS = (
    "id", "candidate_id", "kind", "received_at", "due_at", "channel", "note", "received_by",
    "status", "outcome", "completed_at", "completed_by", "receipt_ids", "kept",
    "export_object_id", "export_sha256", "export_size", "sha256",
)  # fmt: skip
_FINISHED = (
    f"SELECT {', '.join(_FIELDS)} FROM privacy_requests WHERE status <> 'open' "
    'ORDER BY id::text COLLATE "C"'
)


def _records(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
    for r in stream(uow, _FINISHED, {}, "records_privacy_requests"):
        row = dict(zip(_FIELDS, r, strict=True))
        body = request_document(row)
        yield Record(
            KIND, str(row["id"]), KIND, COMPLETED if row["status"] == "completed" else REFUSED,
            document_sha256(body), body=body if keep else None, stated=row["sha256"],
        )  # fmt: skip


SOURCES = (Source(KIND, _records),)
