"""The resumable upload pipeline at the service level."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from invigil.errors import Conflict, Invalid
from invigil.evidence import service, uploads
from invigil.evidence.kinds import TooLarge, UnsupportedMediaType
from invigil.evidence.models import Upload, UploadChunk
from invigil.evidence.service import Evidence
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.evidence.conftest import folder_bytes
from tests.evidence.factories import MARKER, jpeg, sha, webm

CHUNK = 100_000


def pieces(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def begin(db: BoundDatabase, tenant: Tenant, kind: str = "recording_chunk") -> uuid.UUID:
    with db.unit_of_work(tenant.id) as uow:
        return uploads.begin(uow, subject_type="candidate", subject_id="c9", kind_name=kind).id


def send(
    db: BoundDatabase, tenant: Tenant, ev: Evidence, upload_id: uuid.UUID, i: int, data: bytes
) -> uploads.ChunkReceipt:
    with db.unit_of_work(tenant.id) as uow:
        return uploads.put_chunk(uow, ev, upload_id, i, data, sha(data))


def test_interrupted_upload_resumes_and_completes(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence, tmp_path: Path
) -> None:
    data = webm(450_000)
    parts = pieces(data)
    upload_id = begin(db, tenant_a)
    for i in (0, 1, 3):  # the connection drops after these (3 arrived out of order)
        assert not send(db, tenant_a, evidence, upload_id, i, parts[i]).duplicate
    with db.unit_of_work(tenant_a.id) as uow:  # later, maybe another process
        state = uploads.state(uow, upload_id)
        assert state.received == [0, 1, 3] and state.received_bytes == 3 * CHUNK
        with pytest.raises(Invalid, match=r"missing chunks \[2\]"):
            uploads.complete(uow, evidence, upload_id)
    missing = [i for i in range(len(parts)) if i not in state.received]
    for i in missing:
        send(db, tenant_a, evidence, upload_id, i, parts[i])
    assert send(db, tenant_a, evidence, upload_id, 1, parts[1]).duplicate  # re-sent: a no-op
    parked = folder_bytes(tmp_path / "objects")
    assert len(parked) == len(parts) and all(MARKER not in b for b in parked.values())
    with db.unit_of_work(tenant_a.id) as uow:
        obj = uploads.complete(uow, evidence, upload_id)
        assert (obj.plaintext_size, obj.plaintext_sha256) == (len(data), sha(data))
        assert obj.content_type == "video/webm"
        assert service.read_all(uow, evidence, obj.id) == data
        assert uploads.complete(uow, evidence, upload_id).id == obj.id  # idempotent
        assert uow.get(Upload, upload_id).status == "completed"
        assert uow.scalars(select(UploadChunk).where(UploadChunk.upload_id == upload_id)) == []
    assert list(folder_bytes(tmp_path / "objects")) == [obj_key(obj.store_key, tenant_a)]


def obj_key(store_key: str, tenant: Tenant) -> str:
    return f"{tenant.region}/{store_key}"


def test_a_chunk_must_match_its_checksum(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence
) -> None:
    upload_id = begin(db, tenant_a)
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(Invalid, match="SHA-256"):
        uploads.put_chunk(uow, evidence, upload_id, 0, webm(1000), sha(b"other"))


def test_a_different_chunk_under_a_used_index_is_a_conflict(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence
) -> None:
    upload_id = begin(db, tenant_a)
    send(db, tenant_a, evidence, upload_id, 0, webm(1000))
    with pytest.raises(Conflict, match="already received"):
        send(db, tenant_a, evidence, upload_id, 0, webm(1000))


def test_the_first_chunk_is_sniffed_before_the_rest_arrives(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence
) -> None:
    upload_id = begin(db, tenant_a, "snapshot")
    with pytest.raises(UnsupportedMediaType):
        send(db, tenant_a, evidence, upload_id, 0, webm(1000))


def test_the_kind_size_limit_counts_all_chunks(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence
) -> None:
    upload_id = begin(db, tenant_a, "snapshot")  # 5 MiB at most
    data = jpeg(6 * 1024 * 1024)
    parts = pieces(data, 2 * 1024 * 1024)
    send(db, tenant_a, evidence, upload_id, 0, parts[0])
    send(db, tenant_a, evidence, upload_id, 1, parts[1])
    with pytest.raises(TooLarge):
        send(db, tenant_a, evidence, upload_id, 2, parts[2])


def test_oversized_and_empty_chunks_are_refused(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence
) -> None:
    upload_id = begin(db, tenant_a)
    with pytest.raises(TooLarge):
        send(db, tenant_a, evidence, upload_id, 0, webm(uploads.MAX_CHUNK + 1))
    with pytest.raises(Invalid):
        send(db, tenant_a, evidence, upload_id, 0, b"")


def test_an_aborted_upload_takes_no_more_chunks_and_leaves_nothing(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence, tmp_path: Path
) -> None:
    upload_id = begin(db, tenant_a)
    send(db, tenant_a, evidence, upload_id, 0, webm(1000))
    with db.unit_of_work(tenant_a.id) as uow:
        uploads.abort(uow, evidence, upload_id)
    assert folder_bytes(tmp_path / "objects") == {}
    with pytest.raises(Conflict, match="aborted"):
        send(db, tenant_a, evidence, upload_id, 1, webm(1000))


def test_another_tenants_upload_is_not_found(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant, evidence: Evidence
) -> None:
    from invigil.errors import NotFound

    upload_id = begin(db, tenant_a)
    with pytest.raises(NotFound):
        send(db, tenant_b, evidence, upload_id, 0, webm(1000))


def test_erasing_the_subject_aborts_its_open_uploads(
    db: BoundDatabase, tenant_a: Tenant, evidence: Evidence
) -> None:
    upload_id = begin(db, tenant_a)
    send(db, tenant_a, evidence, upload_id, 0, webm(1000))
    with db.unit_of_work(tenant_a.id) as uow:
        service.erase_subject(uow, "candidate", "c9", "withdrawn")
        state = uploads.state(uow, upload_id)
        assert state.upload.status == "aborted" and state.received == []
