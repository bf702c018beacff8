"""Chunked, resumable uploads (``proctoring.capture_api`` exposes them to candidates).

A client opens an upload for a subject and a kind, sends chunks with their
index and SHA-256, asks which chunks arrived after an interruption, and
completes. Each chunk is verified, encrypted under the subject's data key
and parked in the tenant's regional store, so nothing is held in memory or
in plaintext between requests. A re-sent chunk with the same checksum is a
no-op; a different one under the same index is a conflict. Completing
streams the chunks, in order, through :func:`service.store` (sniffing, size
limit, hashing, encryption, audit) and removes the parked chunks.

Callers that act for one subject (a candidate on their attempt) pass
``subject``: an upload of any other subject is then not found, exactly like
a missing one. Writing a chunk and completing lock the upload row, so a
chunk cannot slip in while the upload is being assembled, and two
completions of one upload make one object.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from invigil import audit, metrics
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence import crypto, service
from invigil.evidence.kinds import MiB, TooLarge, allowed_type, check_size, kind
from invigil.evidence.models import EvidenceObject, Upload, UploadChunk
from invigil.evidence.service import Evidence

MAX_CHUNK = 8 * MiB

Subject = tuple[str, str]


@dataclass(frozen=True)
class ChunkReceipt:
    index: int
    size: int
    sha256: str
    duplicate: bool


@dataclass(frozen=True)
class UploadState:
    upload: Upload
    received: list[int]
    received_bytes: int

    @property
    def missing(self) -> list[int]:
        """Gaps below the highest index received (the client knows how many follow)."""
        got = set(self.received)
        return [i for i in range(max(self.received, default=-1)) if i not in got]


def begin(
    uow: UnitOfWork,
    *,
    subject_type: str,
    subject_id: str,
    kind_name: str,
    size: int | None = None,
) -> Upload:
    """Open an upload; ``size``, when the client knows it, is checked against
    the kind's limit now rather than after megabytes have arrived."""
    k = kind(kind_name)
    if size is not None:
        check_size(k, size)
    upload = Upload(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        subject_type=subject_type,
        subject_id=subject_id,
        kind=k.name,
        status="open",
        created_by=f"{uow.actor.kind}:{uow.actor.id}"[:80],
    )
    uow.add(upload)
    uow.flush()
    return upload


def _load(
    uow: UnitOfWork, upload_id: uuid.UUID, subject: Subject | None, *, lock: bool = False
) -> Upload:
    """The upload, locked if asked; another subject's answers like a missing one."""
    upload = uow.session.get(
        Upload, (uow.tenant, upload_id), with_for_update=lock, populate_existing=lock
    )
    if upload is None or (
        subject is not None and (upload.subject_type, upload.subject_id) != subject
    ):
        raise NotFound(f"upload {upload_id} was not found")
    return upload


def find(uow: UnitOfWork, upload_id: uuid.UUID, *, subject: Subject | None = None) -> Upload:
    return _load(uow, upload_id, subject)


def _open_upload(uow: UnitOfWork, upload_id: uuid.UUID, subject: Subject | None = None) -> Upload:
    return _require_open(_load(uow, upload_id, subject, lock=True))


def _require_open(upload: Upload) -> Upload:
    if upload.status != "open":
        raise Conflict(f"upload {upload.id} is {upload.status}; start a new one")
    return upload


def _chunks(uow: UnitOfWork, upload_id: uuid.UUID) -> list[UploadChunk]:
    return uow.scalars(
        select(UploadChunk)
        .where(UploadChunk.upload_id == upload_id)
        .order_by(UploadChunk.chunk_index)
    )


def _existing(uow: UnitOfWork, upload_id: uuid.UUID, index: int) -> UploadChunk | None:
    return uow.scalar(
        select(UploadChunk).where(
            UploadChunk.upload_id == upload_id, UploadChunk.chunk_index == index
        )
    )


def put_chunk(
    uow: UnitOfWork,
    evidence: Evidence,
    upload_id: uuid.UUID,
    index: int,
    data: bytes,
    sha256: str,
    *,
    subject: Subject | None = None,
) -> ChunkReceipt:
    """Verify, encrypt and park one chunk; idempotent for an identical re-send."""
    upload = _open_upload(uow, upload_id, subject)
    k = kind(upload.kind)
    if index < 0:
        raise Invalid("a chunk index starts at 0")
    if not data:
        raise Invalid("a chunk cannot be empty")
    if len(data) > MAX_CHUNK:
        raise TooLarge(f"a chunk may be at most {MAX_CHUNK // MiB} MiB", max_size=MAX_CHUNK)
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, sha256.lower()):
        raise Invalid(
            f"chunk {index} does not match its SHA-256 (received {actual}); send it again",
            received_sha256=actual,
        )
    previous = _existing(uow, upload_id, index)
    if previous is not None:
        return _duplicate(previous, actual)
    if index == 0:
        allowed_type(k, data[:64])  # refuse a wrong type before the rest arrives
    chunks = _chunks(uow, upload_id)
    check_size(k, sum(c.size for c in chunks) + len(data))

    _, target = evidence.store_of(uow)
    key = service.subject_key(uow, evidence, upload.subject_type, upload.subject_id)
    chunk_id = uuid.uuid4()
    store_key = f"{uow.tenant}/uploads/{upload_id}/{index}-{chunk_id}"
    stored = target.put(store_key, crypto.encrypt(key.secret, chunk_id, [data]))
    inserted = uow.session.execute(
        insert(UploadChunk)
        .values(
            tenant_id=uow.tenant,
            id=chunk_id,
            upload_id=upload_id,
            chunk_index=index,
            size=len(data),
            sha256=actual,
            store_key=store_key,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "upload_id", "chunk_index"])
        .returning(UploadChunk.id)
    ).first()
    if inserted is None:  # the same chunk raced in from another request
        with contextlib.suppress(Exception):
            target.delete(store_key)
        raced = _existing(uow, upload_id, index)
        assert raced is not None
        return _duplicate(raced, actual)
    upload.updated_at = datetime.now(UTC)
    metrics.EVIDENCE_BYTES.labels(k.name).inc(stored)
    return ChunkReceipt(index, len(data), actual, duplicate=False)


def _duplicate(previous: UploadChunk, sha256: str) -> ChunkReceipt:
    if previous.sha256 != sha256:
        raise Conflict(
            f"chunk {previous.chunk_index} was already received with other content "
            f"(SHA-256 {previous.sha256}); chunks cannot be replaced",
            received_sha256=previous.sha256,
        )
    return ChunkReceipt(previous.chunk_index, previous.size, previous.sha256, duplicate=True)


def state(uow: UnitOfWork, upload_id: uuid.UUID, *, subject: Subject | None = None) -> UploadState:
    """What arrived so far: a client resumes by sending the missing indices."""
    upload = _load(uow, upload_id, subject)
    chunks = _chunks(uow, upload_id)
    return UploadState(upload, [c.chunk_index for c in chunks], sum(c.size for c in chunks))


def complete(
    uow: UnitOfWork, evidence: Evidence, upload_id: uuid.UUID, *, subject: Subject | None = None
) -> EvidenceObject:
    """Assemble the chunks into one evidence object (idempotent once completed)."""
    upload = _load(uow, upload_id, subject, lock=True)
    if upload.status == "completed" and upload.object_id is not None:
        return service.get_object(uow, upload.object_id)
    _require_open(upload)
    chunks = _chunks(uow, upload_id)
    indices = [c.chunk_index for c in chunks]
    if not chunks or indices != list(range(len(chunks))):
        missing = sorted(set(range(max(indices, default=-1) + 1)) - set(indices)) or [0]
        raise Invalid(
            f"upload {upload_id} is missing chunks {missing}; send them, then complete",
            missing=missing,
        )
    _, target = evidence.store_of(uow)
    key = service.subject_key(uow, evidence, upload.subject_type, upload.subject_id)

    def assembled() -> Iterator[bytes]:
        for chunk in chunks:
            data = b"".join(crypto.decrypt(key.secret, chunk.id, target.get(chunk.store_key)))
            if hashlib.sha256(data).hexdigest() != chunk.sha256:
                raise crypto.Corrupt(f"parked chunk {chunk.chunk_index} changed in the store")
            yield data

    obj = service.store(
        uow,
        evidence,
        subject_type=upload.subject_type,
        subject_id=upload.subject_id,
        kind_name=upload.kind,
        data=assembled(),
    )
    upload.status, upload.object_id = "completed", obj.id
    upload.updated_at = datetime.now(UTC)
    uow.session.execute(delete(UploadChunk).where(UploadChunk.upload_id == upload_id))
    audit.record(
        uow, "evidence.upload_completed", upload, {"object_id": obj.id, "chunks": len(chunks)}
    )
    for chunk in chunks:
        with contextlib.suppress(Exception):
            target.delete(chunk.store_key)
    return obj


def abort(
    uow: UnitOfWork, evidence: Evidence, upload_id: uuid.UUID, *, subject: Subject | None = None
) -> None:
    upload = _open_upload(uow, upload_id, subject)
    _, target = evidence.store_of(uow)
    chunks = _chunks(uow, upload_id)
    upload.status = "aborted"
    upload.updated_at = datetime.now(UTC)
    uow.session.execute(delete(UploadChunk).where(UploadChunk.upload_id == upload_id))
    for chunk in chunks:
        with contextlib.suppress(Exception):
            target.delete(chunk.store_key)
