"""The candidate's evidence uploads: snapshots, the ID photo, screen recordings.

Every route is under the guest link, ``/take/{token}/api``, and takes the
candidate's session (:mod:`invigil.delivery.candidate`) and nothing else; see
``docs/candidate-api.md``, "Evidence uploads". The subject of every object
and upload is the attempt; its data key is the candidate's
(:func:`service.key_owner`), so erasing the candidate shreds it.

Bodies are raw bytes, never trusted for their Content-Type: the type is
sniffed from the bytes. A single-shot upload streams from the socket through
sniffing, the size limit, hashing and encryption into the store; a recording
chunk is read up to ``MAX_CHUNK`` and no further.

The attempt row is not locked while a body streams in (that would hold up
answer saves on a slow network). It is re-read ``FOR SHARE`` before anything
is recorded, so an upload and a submit are serialised: whichever commits
first wins, and an upload that loses to a submit is refused and leaves
nothing behind. The exception is an attempt the server ended (an auto-submit,
the deadline job): evidence captured before that may drain for the attempt's
grace window (``_check_after_close``).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from invigil.delivery.attempts import AttemptClosed, NotStarted, require_consented
from invigil.delivery.candidate import Reading, Taking
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Invalid
from invigil.evidence import kinds, service, uploads
from invigil.evidence.kinds import Kind, MiB, TooLarge
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT, Evidence
from invigil.evidence.uploads import MAX_CHUNK
from invigil.proctoring import capture, live
from invigil.proctoring.models import RecordingSegment, Snapshot

router = APIRouter(prefix="/take/{token}/api", include_in_schema=False)

SINGLE_SHOT = ("snapshot", "id_photo", "room_check")
# The identity check may come before the clock starts; everything else is
# evidence of the exam itself.
BEFORE_BEGIN = ("id_photo",)
# Ended by the server, not the candidate: evidence still queued in the browser
# may drain for the attempt's grace window (see _check_after_close).
SERVER_CLOSED = ("proctoring", "deadline", "proctor")
# The browser's clock against ours, for a snapshot taken as the attempt closed.
CLOCK_TOLERANCE = timedelta(seconds=2)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=32)
    size: int | None = Field(default=None, ge=1, description="the total size, if known")


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment_index: int = Field(ge=0, le=1_000_000)
    object_id: uuid.UUID = Field(description="the object of a completed recording upload")
    started_at: AwareDatetime
    ended_at: AwareDatetime


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _stored(obj: EvidenceObject) -> dict[str, Any]:
    return {
        "id": str(obj.id),
        "kind": obj.kind,
        "content_type": obj.content_type,
        "size": obj.plaintext_size,
        "sha256": obj.plaintext_sha256,
        "created_at": _time(obj.created_at),
    }


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _segment(segment: RecordingSegment) -> dict[str, Any]:
    return {
        "id": str(segment.id),
        "segment_index": segment.segment_index,
        "object_id": str(segment.object_id),
        "started_at": _time(segment.started_at),
        "ended_at": _time(segment.ended_at),
    }


def _upload_state(t: Taking, upload_id: uuid.UUID) -> dict[str, Any]:
    found = uploads.state(t.uow, upload_id, subject=_subject(t))
    upload, k = found.upload, kinds.kind(found.upload.kind)
    obj = service.get_object(t.uow, upload.object_id) if upload.object_id else None
    return {
        "id": str(upload.id),
        "kind": upload.kind,
        "status": upload.status,
        "received": found.received,
        "received_bytes": found.received_bytes,
        "missing": found.missing,
        "max_chunk": MAX_CHUNK,
        "max_size": k.max_size,
        "object": _stored(obj) if obj else None,
    }


def _evidence(request: Request) -> Evidence:
    evidence: Evidence = request.app.state.services.evidence
    return evidence


def _subject(t: Taking) -> tuple[str, str]:
    return ATTEMPT, str(t.attempt.id)


# --- the attempt must be taking evidence ------------------------------------


def _check_open(attempt: Attempt, kind_name: str, taken_at: datetime | None = None) -> None:
    """Uploads while the attempt runs, until its deadline plus grace (the
    tail of a recording flushed as the time runs out); an ID photo also
    before the clock starts. ``taken_at`` is when the evidence was captured
    (a snapshot's time, a segment's start), where that is known."""
    now = datetime.now(UTC)
    if attempt.status == "submitted":
        _check_after_close(attempt, kind_name, taken_at, now)
        return
    if attempt.status != "in_progress":
        if kind_name in BEFORE_BEGIN:
            return
        raise NotStarted("the exam has not started yet: start it, then upload")
    if attempt.deadline is not None:
        until = attempt.deadline + timedelta(seconds=attempt.grace_seconds)
        if now > until:
            raise AttemptClosed(
                "the time is up: uploads were accepted until "
                f"{until.astimezone(UTC).isoformat(timespec='seconds')}"
            )


def _check_after_close(
    attempt: Attempt, kind_name: str, taken_at: datetime | None, now: datetime
) -> None:
    """An attempt the server ended (auto-submit, the deadline job) closed
    under the candidate's browser while evidence was still queued in it, often
    the very evidence of why it ended: that queue may drain for the grace
    window, and only with evidence captured during the exam. A candidate's
    own submit comes after the browser flushed, so nothing is taken after it."""
    closed = attempt.submitted_at
    if attempt.submit_reason not in SERVER_CLOSED or closed is None or kind_name in BEFORE_BEGIN:
        raise AttemptClosed("this attempt is submitted: it takes no more uploads")
    until = closed + timedelta(seconds=attempt.grace_seconds)
    if now > until:
        raise AttemptClosed(
            "this attempt is submitted: evidence queued before it ended was accepted until "
            f"{until.astimezone(UTC).isoformat(timespec='seconds')}"
        )
    if taken_at is not None and taken_at > closed + CLOCK_TOLERANCE:
        # Refused for good, but the queue behind it may still drain (422, not 409).
        raise Invalid(
            "this attempt was submitted before this was captured: only evidence of the "
            "exam is accepted",
            submitted_at=_time(closed),
        )


def _hold_open(t: Taking, kind_name: str, taken_at: datetime | None = None) -> None:
    """Re-read the attempt FOR SHARE: a submit in flight is waited for, and
    none can commit before this upload does."""
    attempt = t.uow.session.get(
        Attempt,
        (t.uow.tenant, t.attempt.id),
        with_for_update={"read": True},
        populate_existing=True,
    )
    assert attempt is not None  # the candidate's own attempt: rows are never deleted
    _check_open(attempt, kind_name, taken_at)


# --- request bodies ---------------------------------------------------------


def _body(request: Request) -> Iterator[bytes]:
    """The body as it arrives. Routes here are sync (they run in a worker
    thread), so each piece is awaited on the event loop."""
    stream = request.stream()

    async def next_piece() -> bytes | None:
        try:
            return await anext(stream)
        except StopAsyncIteration:
            return None

    while (piece := anyio.from_thread.run(next_piece)) is not None:
        if piece:
            yield piece


def _refuse_declared_length(request: Request, limit: int, refuse: TooLarge) -> None:
    """A Content-Length over the limit is refused before a byte is read
    (the bytes themselves are counted too: the header is only a hint)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise refuse


def _chunk_too_large() -> TooLarge:
    return TooLarge(f"a chunk may be at most {MAX_CHUNK // MiB} MiB", max_size=MAX_CHUNK)


def _read_chunk(request: Request) -> bytes:
    _refuse_declared_length(request, MAX_CHUNK, _chunk_too_large())
    buffer = bytearray()
    for piece in _body(request):
        buffer += piece
        if len(buffer) > MAX_CHUNK:
            raise _chunk_too_large()
    return bytes(buffer)


# --- single-shot: snapshots and the ID photo --------------------------------


def _single_shot_kind(name: str) -> Kind:
    k = kinds.kind(name)
    if k.name not in SINGLE_SHOT:
        raise Invalid(
            f"a {k.name} is uploaded in chunks: POST uploads, then PUT its chunks",
            single_shot=list(SINGLE_SHOT),
        )
    return k


@router.post("/evidence/{kind}")
def upload_evidence(
    kind: str,
    request: Request,
    taken_at: Annotated[AwareDatetime | None, Query()] = None,
    reason: Annotated[Literal["periodic", "event", "start"], Query()] = "periodic",
    event_seq: Annotated[int | None, Query(ge=1)] = None,
    faces: Annotated[int | None, Query(ge=0, le=capture.MAX_FACES)] = None,
    ref: Annotated[uuid.UUID | None, Query()] = None,
    check: Annotated[uuid.UUID | None, Query()] = None,
    t: Taking = Reading,
) -> JSONResponse:
    """Store one snapshot or ID photo from the raw body. A snapshot's query
    says when it was taken, why, and the browser's face count; the server
    re-checks it in a job queued in this transaction. A snapshot sent again
    under its ``ref`` answers 200 with the one stored, and stores nothing."""
    k = _single_shot_kind(kind)
    meta = capture.SnapshotMeta(taken_at, reason, event_seq, faces, ref)
    require_consented(t.uow, t.attempt, k.name)
    if k.name == "room_check":
        return _room_clip(t, request, k, meta, check)
    _check_open(t.attempt, k.name, _captured(k.name, meta))
    if k.name == "snapshot":
        capture.check_meta(meta, t.attempt)  # before a byte is stored
        if (known := capture.stored_snapshot(t.uow, t.attempt, ref)) is not None:
            return _again(t, known)
    _refuse_declared_length(
        request,
        k.max_size,
        TooLarge(f"a {k.name} may be at most {k.max_size // MiB} MiB", max_size=k.max_size),
    )
    evidence = _evidence(request)
    try:
        obj = _store_single(t, request, evidence, k, meta)
    except _SentBefore as again:
        return _again(t, again.snapshot)
    try:
        snapshot = (
            capture.record_snapshot(t.uow, t.attempt, obj, meta) if k.name == "snapshot" else None
        )
    except BaseException:
        with contextlib.suppress(Exception):  # the row rolls back; the bytes go too
            evidence.stores.for_region(obj.region).delete(obj.store_key)
        raise
    out = _stored(obj)
    if snapshot is not None:
        out["snapshot"] = _snapshot(snapshot)
    return _json(out, 201)


def _room_clip(
    t: Taking, request: Request, k: Kind, meta: capture.SnapshotMeta, check: uuid.UUID | None
) -> JSONResponse:
    """A room check's clip, for the check a proctor asked for (once)."""
    if check is None:
        raise Invalid("name the room check this clip answers: ?check=<its id>", field="check")
    if t.attempt.status != "in_progress":
        raise AttemptClosed("this attempt is not in progress: no room check is waiting")
    asked = live.pending_room_check(t.uow, t.attempt.id)
    if asked is None or asked.id != check:
        raise Conflict("no room check is waiting for this clip")
    _refuse_declared_length(
        request, k.max_size, TooLarge(f"a {k.name} may be at most {k.max_size // MiB} MiB")
    )
    evidence = _evidence(request)
    obj = _store_single(t, request, evidence, k, meta)
    try:
        live.record_room_clip(t.uow, t.attempt, check, obj.id)
    except BaseException:
        with contextlib.suppress(Exception):  # the row rolls back; the bytes go too
            evidence.stores.for_region(obj.region).delete(obj.store_key)
        raise
    return _json(_stored(obj), 201)


def _store_single(
    t: Taking, request: Request, evidence: Evidence, k: Kind, meta: capture.SnapshotMeta
) -> EvidenceObject:
    subject_type, subject_id = _subject(t)
    return service.store(
        t.uow,
        evidence,
        subject_type=subject_type,
        subject_id=subject_id,
        kind_name=k.name,
        data=_body(request),
        # the attempt's lock before the audit log's, as saves and events take them
        before_record=lambda: _before_record(t, k.name, meta),
    )


class _SentBefore(Exception):
    """A racing upload of the same ``ref`` was stored first."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot


def _before_record(t: Taking, kind_name: str, meta: capture.SnapshotMeta) -> None:
    _hold_open(t, kind_name, _captured(kind_name, meta))
    if kind_name == "snapshot" and meta.ref is not None:
        known = capture.hold_ref(t.uow, t.attempt, meta.ref)
        if known is not None:
            raise _SentBefore(known)  # the bytes just stored go again


def _captured(kind_name: str, meta: capture.SnapshotMeta) -> datetime | None:
    """When a snapshot was taken: a snapshot sent without its time is
    recorded as taken now (:func:`capture.record_snapshot`)."""
    if kind_name != "snapshot":
        return None
    return meta.taken_at or datetime.now(UTC)


def _again(t: Taking, snapshot: Snapshot) -> JSONResponse:
    obj = t.uow.get(EvidenceObject, snapshot.object_id, label="evidence object")
    return _json(_stored(obj) | {"snapshot": _snapshot(snapshot)}, 200)


def _snapshot(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": str(snapshot.id),
        "taken_at": _time(snapshot.taken_at),
        "reason": snapshot.reason,
        "event_seq": snapshot.event_seq,
        "faces": snapshot.client_faces,
        "ref": str(snapshot.client_ref) if snapshot.client_ref else None,
    }


# --- chunked, resumable: recordings ----------------------------------------


@router.post("/uploads")
def begin_upload(body: UploadIn, t: Taking = Reading) -> JSONResponse:
    """Open a resumable upload; chunks follow with PUT."""
    k = kinds.kind(body.kind)
    require_consented(t.uow, t.attempt, k.name)
    _check_open(t.attempt, k.name)
    subject_type, subject_id = _subject(t)
    upload = uploads.begin(
        t.uow, subject_type=subject_type, subject_id=subject_id, kind_name=k.name, size=body.size
    )
    return _json(_upload_state(t, upload.id), 201)


@router.put("/uploads/{upload_id}/chunks/{index}")
def put_chunk(
    upload_id: uuid.UUID,
    index: Annotated[int, Path(ge=0, le=1_000_000)],
    request: Request,
    sha256: Annotated[str | None, Header(alias="X-Chunk-SHA256")] = None,
    t: Taking = Reading,
) -> JSONResponse:
    """One chunk with its SHA-256: 201 when new, 200 when it had arrived already."""
    if sha256 is None or not _SHA256.match(sha256):
        raise Invalid("send the chunk's SHA-256 (64 hex digits) in the X-Chunk-SHA256 header")
    upload = uploads.find(t.uow, upload_id, subject=_subject(t))  # 404 before reading the body
    require_consented(t.uow, t.attempt, upload.kind)
    _check_open(t.attempt, upload.kind)
    data = _read_chunk(request)
    _hold_open(t, upload.kind)
    receipt = uploads.put_chunk(
        t.uow, _evidence(request), upload_id, index, data, sha256, subject=_subject(t)
    )
    return _json(
        {
            "upload_id": str(upload_id),
            "index": receipt.index,
            "size": receipt.size,
            "sha256": receipt.sha256,
            "duplicate": receipt.duplicate,
        },
        200 if receipt.duplicate else 201,
    )


@router.get("/uploads/{upload_id}")
def get_upload(upload_id: uuid.UUID, t: Taking = Reading) -> JSONResponse:
    """Which chunks arrived: after an interruption, send the others."""
    return _json(_upload_state(t, upload_id))


@router.post("/uploads/{upload_id}/complete")
def complete_upload(upload_id: uuid.UUID, request: Request, t: Taking = Reading) -> JSONResponse:
    """Assemble the chunks into one stored object; idempotent."""
    upload = uploads.find(t.uow, upload_id, subject=_subject(t))
    if upload.status != "completed":
        _hold_open(t, upload.kind)
    obj = uploads.complete(t.uow, _evidence(request), upload_id, subject=_subject(t))
    return _json(_stored(obj))


# --- recording segments -------------------------------------------------------


@router.post("/recording/segments")
def register_segment(body: SegmentIn, t: Taking = Reading) -> JSONResponse:
    """Which span of the exam a completed recording upload covers: 201 when
    new, 200 when that index was already this object."""
    require_consented(t.uow, t.attempt, "recording_chunk")
    _check_open(t.attempt, "recording_chunk", body.started_at)
    _hold_open(t, "recording_chunk", body.started_at)
    segment, created = capture.register_segment(
        t.uow,
        t.attempt,
        segment_index=body.segment_index,
        object_id=body.object_id,
        started_at=body.started_at,
        ended_at=body.ended_at,
    )
    return _json(_segment(segment), 201 if created else 200)
