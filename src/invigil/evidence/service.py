"""Storing and opening evidence: sniff, limit, hash, encrypt, write to the
tenant's regional store, record and audit, all from a stream.

The store is chosen here from the tenant's region (read through the unit of
work, so RLS applies); no caller can name a store or a region, so an EU
tenant's evidence cannot be written to a US store through this code path.

Which data key encrypts an object is decided here too (:func:`key_owner`):
an attempt's evidence is under its candidate's key, so erasing the candidate
shreds every attempt of theirs at once (delivery registers that sharing with
:func:`share_key`; evidence knows no attempt).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select

from invigil import audit, metrics
from invigil.db import platform
from invigil.db.uow import UnitOfWork
from invigil.errors import Gone, NotFound
from invigil.evidence import crypto
from invigil.evidence.keys import OpenKey, data_key_for, destroy_subject_keys, open_data_key
from invigil.evidence.kinds import SNIFF_BYTES, Kind, allowed_type, check_size, kind
from invigil.evidence.master import LocalMasterKey, MasterKey
from invigil.evidence.models import EvidenceObject, Upload, UploadChunk
from invigil.evidence.signed_urls import UrlSigner
from invigil.evidence.stores import ObjectStore, RegionStores
from invigil.settings import Settings


@dataclass
class Evidence:
    """The process-wide parts: regional stores, the master key, the URL signer."""

    stores: RegionStores
    master: MasterKey
    signer: UrlSigner

    @classmethod
    def from_settings(cls, settings: Settings) -> Evidence:
        secret = settings.master_key.get_secret_value() if settings.master_key else None
        return cls(
            RegionStores(
                settings.regions,
                settings.object_store,
                settings.objects_dir,
                settings.object_stores,
            ),
            LocalMasterKey(settings.keys_dir, secret),
            UrlSigner(settings.keys_dir / "evidence-url.key", settings.evidence_url_seconds),
        )

    def store_of(self, uow: UnitOfWork) -> tuple[str, ObjectStore]:
        """The region and store of the unit of work's tenant: the only way to a store."""
        region = platform.bound_tenant(uow).region
        return region, self.stores.for_region(region)


ATTEMPT = "attempt"
CANDIDATE = "candidate"


@dataclass(frozen=True)
class SharedKey:
    """A subject type whose evidence is under its owner's data key (an
    attempt's under its candidate's), as the domain owning it registers:
    ``owner_of(uow, subject_id)`` finds the owner's id, ``owned(owner_id)``
    selects the owned subjects' ids (as strings) for erasure."""

    owner_type: str
    owner_of: Callable[[UnitOfWork, str], str]
    owned: Callable[[str], Select[str]]


# Registered by the domains at import (delivery: attempt -> candidate), so
# that evidence imports none of them.
_shared: dict[str, SharedKey] = {}


def share_key(subject_type: str, shared: SharedKey) -> None:
    _shared[subject_type] = shared


def key_owner(uow: UnitOfWork, subject_type: str, subject_id: str) -> tuple[str, str]:
    """Whose data key encrypts a subject's evidence: a registered subject
    type's is its owner's (an attempt's, its candidate's); any other
    subject has its own."""
    shared = _shared.get(subject_type)
    if shared is not None:
        return shared.owner_type, shared.owner_of(uow, subject_id)
    return subject_type, subject_id


def subject_key(uow: UnitOfWork, evidence: Evidence, subject_type: str, subject_id: str) -> OpenKey:
    """The live data key that new evidence of this subject is encrypted with."""
    return data_key_for(uow, evidence.master, *key_owner(uow, subject_type, subject_id))


def _uuid(value: str, label: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{label} {value} was not found") from None


class _Meter:
    """Counts and hashes the plaintext as it streams, enforcing the kind's size limit."""

    def __init__(self, k: Kind) -> None:
        self.kind = k
        self.size = 0
        self.sha256 = hashlib.sha256()

    def wrap(self, stream: Iterable[bytes]) -> Iterator[bytes]:
        for piece in stream:
            self.size += len(piece)
            check_size(self.kind, self.size)
            self.sha256.update(piece)
            yield piece


def _peek(stream: Iterable[bytes], n: int) -> tuple[bytes, Iterator[bytes]]:
    """The first ``n`` bytes (fewer if the stream is shorter) and the whole stream again."""
    iterator = iter(stream)
    head: list[bytes] = []
    seen = 0
    for piece in iterator:
        head.append(piece)
        seen += len(piece)
        if seen >= n:
            break

    def whole() -> Iterator[bytes]:
        yield from head
        yield from iterator

    return b"".join(head)[:n], whole()


def store(
    uow: UnitOfWork,
    evidence: Evidence,
    *,
    subject_type: str,
    subject_id: str,
    kind_name: str,
    data: Iterable[bytes],
    object_id: uuid.UUID | None = None,
    before_record: Callable[[], object] | None = None,
) -> EvidenceObject:
    """Encrypt ``data`` into the tenant's regional store and record it.

    ``before_record`` runs once the bytes are stored and before anything is
    written to the database: a caller takes its row locks there, so that they
    come before the audit log's (the order every other writer uses) and are
    not held while a slow body streams in. If it raises, the bytes go."""
    k = kind(kind_name)
    head, stream = _peek(data, SNIFF_BYTES)
    content_type = allowed_type(k, head)
    region, target = evidence.store_of(uow)
    key = subject_key(uow, evidence, subject_type, subject_id)
    object_id = object_id or uuid.uuid4()
    store_key = f"{uow.tenant}/{k.name}/{object_id}"
    meter = _Meter(k)
    stored = target.put(store_key, crypto.encrypt(key.secret, object_id, meter.wrap(stream)))
    obj = EvidenceObject(
        tenant_id=uow.tenant,
        id=object_id,
        data_key_id=key.id,
        tenant_key_id=key.tenant_key_id,
        subject_type=subject_type,
        subject_id=subject_id,
        kind=k.name,
        content_type=content_type,
        region=region,
        store_key=store_key,
        format=crypto.FORMAT,
        plaintext_size=meter.size,
        plaintext_sha256=meter.sha256.hexdigest(),
        stored_size=stored,
        created_by=f"{uow.actor.kind}:{uow.actor.id}"[:80],
    )
    try:
        if before_record is not None:
            before_record()
        uow.add(obj)
        uow.flush()
        audit.record(
            uow,
            "evidence.stored",
            obj,
            {
                "subject": {"type": subject_type, "id": subject_id},
                "kind": k.name,
                "content_type": content_type,
                "region": region,
                "size": meter.size,
                "sha256": obj.plaintext_sha256,
                "data_key_id": key.id,
            },
        )
    except BaseException:
        with contextlib.suppress(Exception):
            target.delete(store_key)  # no unrecorded bytes left behind
        raise
    metrics.EVIDENCE_BYTES.labels(k.name).inc(stored)
    return obj


# Objects a higher layer deleted from the store on purpose (retention's
# purge, while their key still serves the subject's other objects): each
# provider answers when an object was deleted, or None. Registered by that
# layer at import, so that evidence imports none.
_deleted: list[Callable[[UnitOfWork, uuid.UUID], datetime | None]] = []


def register_deleted(provider: Callable[[UnitOfWork, uuid.UUID], datetime | None]) -> None:
    if provider not in _deleted:
        _deleted.append(provider)


def _check_not_deleted(uow: UnitOfWork, object_id: uuid.UUID) -> None:
    for provider in _deleted:
        when = provider(uow, object_id)
        if when is not None:
            raise Gone(
                f"this evidence was deleted on {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
                "under the retention policy; it cannot be recovered",
                erased_at=when.astimezone(UTC).isoformat(),
            )


def get_object(uow: UnitOfWork, object_id: uuid.UUID) -> EvidenceObject:
    return uow.get(EvidenceObject, object_id, label="evidence object")


def open_object(
    uow: UnitOfWork, evidence: Evidence, object_id: uuid.UUID
) -> tuple[EvidenceObject, Iterator[bytes]]:
    """The record and its decrypted bytes as a stream. An erased subject's
    object, or one deleted under the retention policy, raises Gone; altered
    bytes raise Corrupt while streaming."""
    obj = get_object(uow, object_id)
    key = open_data_key(uow, evidence.master, obj.data_key_id)
    _check_not_deleted(uow, obj.id)
    source = evidence.stores.for_region(obj.region).get(obj.store_key)
    return obj, crypto.decrypt(key.secret, obj.id, source)


def read_all(uow: UnitOfWork, evidence: Evidence, object_id: uuid.UUID) -> bytes:
    _, stream = open_object(uow, evidence, object_id)
    return b"".join(stream)


def erase_subject(uow: UnitOfWork, subject_type: str, subject_id: str, reason: str) -> int:
    """Crypto-shred every object of a subject (in every region) by destroying
    its data keys, and abort its open uploads (their parked chunks were under
    the same key): for a candidate, those of their attempts too. The stored
    bytes may stay: without the key they are noise."""
    keyed: ColumnElement[bool] = and_(
        Upload.subject_type == subject_type, Upload.subject_id == subject_id
    )
    for owned_type, shared in _shared.items():
        if shared.owner_type == subject_type:
            owned = shared.owned(subject_id)
            of_owned = and_(Upload.subject_type == owned_type, Upload.subject_id.in_(owned))
            keyed = or_(keyed, of_owned)
    open_uploads = uow.scalars(select(Upload).where(keyed, Upload.status == "open"))
    for upload in open_uploads:
        upload.status = "aborted"
        uow.session.execute(delete(UploadChunk).where(UploadChunk.upload_id == upload.id))
    return destroy_subject_keys(uow, subject_type, subject_id, reason)
