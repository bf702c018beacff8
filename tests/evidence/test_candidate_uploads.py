"""Evidence uploads as the candidate's browser makes them, over HTTP, with a
real started attempt: sniffed types, per-kind limits, streamed bodies,
checksummed and resumable chunks, attempt scoping, encryption at rest."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.delivery.models import Attempt
from invigil.errors import Gone
from invigil.evidence import service
from invigil.evidence.kinds import MiB
from invigil.evidence.models import DataKey, EvidenceObject, Upload
from invigil.evidence.service import Evidence
from invigil.evidence.uploads import MAX_CHUNK
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.factories import kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begun, browser, invited, start
from tests.evidence.conftest import folder_bytes
from tests.evidence.factories import (
    JPEG_HEAD,
    MARKER,
    WEBM_HEAD,
    jpeg,
    make_evidence,
    png,
    sha,
    webm,
)

HTML = b"<!doctype html><html><body><script>alert(1)</script>" + MARKER + b"</body></html>"


@pytest.fixture
def evidence(app: FastAPI, tmp_path: Path) -> Evidence:
    """The app's evidence on a fresh folder, so a test sees only its own objects."""
    ev = make_evidence(tmp_path)
    app.state.services.evidence = ev
    return ev


class Taker:
    """A candidate's browser on a begun attempt, with the ids a test checks against."""

    def __init__(self, app: FastAPI, db: BoundDatabase, settings: Settings, **exam: Any) -> None:
        # High stakes consents to every kind of evidence (snapshots, the ID
        # photo, the screen); what is not consented is refused (test_consent).
        made, self.token = invited(db, settings, **({"proctoring_preset": "high_stakes"} | exam))
        self.tenant_id: uuid.UUID = made.invitation.tenant_id
        self.candidate_id: uuid.UUID = made.invitation.candidate_id
        self.client, state = begun(app, self.token)
        self.attempt_id: str = state["attempt_id"]
        self.api = f"/take/{self.token}/api"

    def post(self, kind: str, data: bytes, content_type: str = "image/jpeg") -> httpx.Response:
        r: httpx.Response = self.client.post(
            f"{self.api}/evidence/{kind}", content=data, headers={"content-type": content_type}
        )
        return r

    def begin(self, kind: str = "recording_chunk", **extra: Any) -> httpx.Response:
        r: httpx.Response = self.client.post(f"{self.api}/uploads", json={"kind": kind} | extra)
        return r

    def chunk(self, upload_id: str, index: int, data: bytes, digest: str = "") -> httpx.Response:
        r: httpx.Response = self.client.put(
            f"{self.api}/uploads/{upload_id}/chunks/{index}",
            content=data,
            headers={"x-chunk-sha256": digest or sha(data), "content-type": "video/webm"},
        )
        return r

    def complete(self, upload_id: str) -> httpx.Response:
        r: httpx.Response = self.client.post(f"{self.api}/uploads/{upload_id}/complete")
        return r


@pytest.fixture
def taker(app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence) -> Taker:
    return Taker(app, db, settings)


def problem_type(r: httpx.Response) -> str:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return str(r.json()["type"]).removeprefix("urn:invigil:problem:")


def objects(db: BoundDatabase, taker: Taker) -> list[EvidenceObject]:
    with db.unit_of_work(taker.tenant_id) as uow:
        return uow.scalars(select(EvidenceObject).order_by(EvidenceObject.created_at))


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- stored, encrypted, recorded --------------------------------------------


def test_a_snapshot_is_encrypted_at_rest_and_its_hash_recorded_and_audited(
    db: BoundDatabase, taker: Taker, evidence: Evidence, tmp_path: Path
) -> None:
    data = jpeg(300_000)
    r = taker.post("snapshot", data)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["kind"], out["content_type"]) == ("snapshot", "image/jpeg")
    assert (out["size"], out["sha256"]) == (len(data), sha(data))

    on_disk = folder_bytes(tmp_path / "objects")
    assert len(on_disk) == 1
    blob = next(iter(on_disk.values()))
    assert MARKER not in blob and JPEG_HEAD[:3] not in blob[:64]
    with db.unit_of_work(taker.tenant_id) as uow:
        obj = uow.get(EvidenceObject, uuid.UUID(out["id"]))
        assert (obj.subject_type, obj.subject_id) == ("attempt", taker.attempt_id)
        assert (obj.plaintext_size, obj.plaintext_sha256) == (len(data), sha(data))
        assert obj.created_by == f"candidate:{taker.candidate_id}"
        key = uow.get(DataKey, obj.data_key_id)  # the candidate's key, not the attempt's
        assert (key.subject_type, key.subject_id) == ("candidate", str(taker.candidate_id))
        event = uow.scalar(select(AuditEvent).where(AuditEvent.action == "evidence.stored"))
        assert event is not None and event.subject_id == out["id"]
        assert (event.actor_kind, event.actor_id) == ("candidate", str(taker.candidate_id))
        assert (event.payload["sha256"], event.payload["size"]) == (sha(data), len(data))
        assert event.payload["subject"] == {"type": "attempt", "id": taker.attempt_id}
        assert service.read_all(uow, evidence, obj.id) == data


def test_erasing_the_candidate_shreds_their_attempts_evidence(
    db: BoundDatabase, taker: Taker, evidence: Evidence
) -> None:
    stored = taker.post("snapshot", jpeg()).json()
    upload = taker.begin().json()
    assert taker.chunk(upload["id"], 0, webm(5_000)).status_code == 201
    with db.unit_of_work(taker.tenant_id) as uow:
        assert service.erase_subject(uow, "candidate", str(taker.candidate_id), "request") == 1
        with pytest.raises(Gone):
            service.read_all(uow, evidence, uuid.UUID(stored["id"]))
        assert uow.get(Upload, uuid.UUID(upload["id"])).status == "aborted"


# --- types come from the bytes ----------------------------------------------


def test_the_type_is_sniffed_from_the_bytes_never_taken_from_the_header(
    db: BoundDatabase, taker: Taker
) -> None:
    as_png = taker.post("snapshot", png(), content_type="image/jpeg")
    assert as_png.status_code == 201 and as_png.json()["content_type"] == "image/png"

    for kind, body in (("snapshot", HTML), ("id_photo", HTML), ("snapshot", webm(5_000))):
        r = taker.post(kind, body, content_type="image/jpeg")
        assert r.status_code == 415 and problem_type(r) == "unsupported-media-type", r.text
        assert r.json()["allowed"] == ["image/jpeg", "image/png"]

    # A recording allows WebM only: a JPEG labelled video/webm is refused at its first chunk.
    upload = taker.begin().json()
    r = taker.chunk(upload["id"], 0, jpeg(5_000))
    assert r.status_code == 415 and problem_type(r) == "unsupported-media-type"
    assert [o.content_type for o in objects(db, taker)] == ["image/png"]


# --- size limits per kind, streamed bodies ----------------------------------


def test_each_kind_has_its_own_size_limit(db: BoundDatabase, taker: Taker) -> None:
    big = jpeg(6 * MiB)  # over a snapshot's 5 MiB, under an ID photo's 10 MiB
    r = taker.post("snapshot", big)
    assert r.status_code == 413 and problem_type(r) == "too-large"
    assert r.json()["max_size"] == 5 * MiB
    # Without a Content-Length (chunked transfer) the bytes themselves are counted.
    r = taker.client.post(
        f"{taker.api}/evidence/snapshot", content=iter(pieces(big, MiB)), headers={}
    )
    assert r.status_code == 413 and problem_type(r) == "too-large", r.text
    assert taker.post("id_photo", big).status_code == 201

    r = taker.begin(size=64 * MiB + 1)  # a declared size over a recording's limit
    assert r.status_code == 413 and problem_type(r) == "too-large"
    upload = taker.begin(size=1000).json()
    r = taker.chunk(upload["id"], 0, webm(MAX_CHUNK + 1))
    assert r.status_code == 413 and r.json()["max_size"] == MAX_CHUNK
    assert [o.kind for o in objects(db, taker)] == ["id_photo"]


async def stream_post(taker: Taker, kind: str, body: AsyncIterator[bytes]) -> httpx.Response:
    """POST a body that the server pulls piece by piece (the test client
    reads a whole body before the app sees it; this transport does not)."""
    transport = httpx.ASGITransport(app=taker.client.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies=taker.client.cookies
    ) as client:
        return await client.post(f"{taker.api}/evidence/{kind}", content=body)


def test_an_oversized_body_is_refused_while_it_streams(taker: Taker) -> None:
    """The server reads the body as it arrives and stops at the limit: a
    50 MiB "snapshot" is refused after about 5 MiB, not buffered whole."""
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for piece in pieces(jpeg(50 * MiB), MiB):
            sent += 1
            yield piece

    r = anyio.run(stream_post, taker, "snapshot", body())
    assert r.status_code == 413, r.text
    assert sent <= 8, f"the server read {sent} MiB of a body it had to refuse after 5"


def test_a_submit_that_lands_while_a_snapshot_streams_in_wins(
    db: BoundDatabase, taker: Taker, tmp_path: Path
) -> None:
    """The attempt is not locked while a body arrives, but re-read under a
    lock before anything is recorded: the upload is refused, nothing kept."""
    from invigil.delivery import attempts

    async def body() -> AsyncIterator[bytes]:
        for n, piece in enumerate(pieces(jpeg(3 * MiB), MiB)):
            if n == 1:  # the browser's other tab submits mid-upload
                with db.unit_of_work(taker.tenant_id) as uow:
                    attempt = uow.get(Attempt, uuid.UUID(taker.attempt_id))
                    attempts.submit(uow, attempt, "candidate")
            yield piece

    r = anyio.run(stream_post, taker, "snapshot", body())
    assert r.status_code == 409 and problem_type(r) == "attempt-closed", r.text
    assert objects(db, taker) == [] and folder_bytes(tmp_path / "objects") == {}


# --- chunks: checksums, idempotence, resume ---------------------------------


def test_a_chunk_must_carry_and_match_its_sha256(taker: Taker) -> None:
    upload = taker.begin().json()
    data = webm(20_000)
    wrong = taker.chunk(upload["id"], 0, data, digest=sha(b"something else"))
    assert wrong.status_code == 422 and problem_type(wrong) == "invalid"
    assert wrong.json()["received_sha256"] == sha(data)
    bare = taker.client.put(f"{taker.api}/uploads/{upload['id']}/chunks/0", content=data)
    assert bare.status_code == 422 and "X-Chunk-SHA256" in bare.json()["detail"]
    state = taker.client.get(f"{taker.api}/uploads/{upload['id']}").json()
    assert state["received"] == [] and state["received_bytes"] == 0


def test_a_resent_chunk_is_a_no_op_and_another_under_its_index_a_conflict(
    tmp_path: Path, taker: Taker
) -> None:
    upload = taker.begin().json()
    data = webm(20_000)
    first = taker.chunk(upload["id"], 0, data)
    assert first.status_code == 201 and first.json()["duplicate"] is False
    parked = folder_bytes(tmp_path / "objects")
    again = taker.chunk(upload["id"], 0, data)
    assert again.status_code == 200 and again.json() == first.json() | {"duplicate": True}
    assert folder_bytes(tmp_path / "objects") == parked  # nothing written twice
    other = taker.chunk(upload["id"], 0, webm(20_000))
    assert other.status_code == 409 and problem_type(other) == "conflict"
    assert other.json()["received_sha256"] == sha(data)
    state = taker.client.get(f"{taker.api}/uploads/{upload['id']}").json()
    assert (state["received"], state["received_bytes"]) == ([0], len(data))


def test_an_interrupted_recording_resumes_and_completes(
    app: FastAPI, db: BoundDatabase, taker: Taker, evidence: Evidence, tmp_path: Path
) -> None:
    data = webm(1_000_000)
    parts = pieces(data, 200_000)
    upload = taker.begin(size=len(data)).json()
    assert upload["status"] == "open" and upload["max_chunk"] == MAX_CHUNK
    for i in (0, 1, 3):  # then the connection drops
        assert taker.chunk(upload["id"], i, parts[i]).status_code == 201
    parked = folder_bytes(tmp_path / "objects")
    assert len(parked) == 3 and all(MARKER not in b for b in parked.values())

    # The page is reloaded: the same browser (its cookie) asks what arrived.
    reloaded = browser(app)
    reloaded.cookies = taker.client.cookies
    status = reloaded.get(f"{taker.api}/uploads/{upload['id']}")
    assert status.status_code == 200, status.text
    state = status.json()
    assert (state["received"], state["missing"]) == ([0, 1, 3], [2])
    early = reloaded.post(f"{taker.api}/uploads/{upload['id']}/complete")
    assert early.status_code == 422 and early.json()["missing"] == [2]
    for i in [*state["missing"], 4]:
        assert taker.chunk(upload["id"], i, parts[i]).status_code == 201

    done = reloaded.post(f"{taker.api}/uploads/{upload['id']}/complete")
    assert done.status_code == 200, done.text
    obj = done.json()
    assert (obj["kind"], obj["content_type"]) == ("recording_chunk", "video/webm")
    assert (obj["size"], obj["sha256"]) == (len(data), sha(data))
    assert reloaded.post(f"{taker.api}/uploads/{upload['id']}/complete").json() == obj
    final = reloaded.get(f"{taker.api}/uploads/{upload['id']}").json()
    assert final["status"] == "completed" and final["object"] == obj

    on_disk = folder_bytes(tmp_path / "objects")
    assert len(on_disk) == 1  # parked chunks removed, one object
    assert all(MARKER not in b and WEBM_HEAD[:4] not in b[:64] for b in on_disk.values())
    with db.unit_of_work(taker.tenant_id) as uow:
        assert service.read_all(uow, evidence, uuid.UUID(obj["id"])) == data
        actions = [
            e.action
            for e in uow.scalars(select(AuditEvent).where(AuditEvent.action.like("evidence.%")))
        ]
        assert actions.count("evidence.stored") == 1
        assert actions.count("evidence.upload_completed") == 1


# --- scoped to the attempt, open only while it runs --------------------------


def test_another_attempts_upload_answers_like_a_missing_one(
    app: FastAPI, db: BoundDatabase, settings: Settings, taker: Taker
) -> None:
    # A neighbour in the same tenant (same exam), and a candidate of another tenant.
    with db.unit_of_work(taker.tenant_id) as uow:
        exam_id = uow.get(Attempt, uuid.UUID(taker.attempt_id)).exam_id
    made = make_invitation(db, taker.tenant_id, kit_for(settings), exam_id)
    neighbour_client, _ = begun(app, token_of(made))
    neighbour = neighbour_client.post(
        f"/take/{token_of(made)}/api/uploads", json={"kind": "recording_chunk"}
    ).json()
    stranger = Taker(app, db, settings)
    foreign = stranger.begin().json()

    def attempts_on(upload_id: str) -> list[tuple[int, Any]]:
        calls = [
            taker.client.get(f"{taker.api}/uploads/{upload_id}"),
            taker.chunk(upload_id, 0, webm(2_000)),
            taker.complete(upload_id),
        ]
        return [(r.status_code, r.json()["detail"].replace(upload_id, "ID")) for r in calls]

    missing = attempts_on(str(uuid.uuid4()))
    assert [s for s, _ in missing] == [404, 404, 404]
    assert attempts_on(neighbour["id"]) == missing
    assert attempts_on(foreign["id"]) == missing
    # The neighbour's upload is untouched.
    state = neighbour_client.get(f"/take/{token_of(made)}/api/uploads/{neighbour['id']}").json()
    assert state["received"] == [] and state["status"] == "open"


def test_a_submitted_attempt_takes_no_more_uploads(db: BoundDatabase, taker: Taker) -> None:
    upload = taker.begin().json()
    assert taker.chunk(upload["id"], 0, webm(5_000)).status_code == 201
    assert taker.client.post(f"{taker.api}/submit", json={}).status_code == 200
    for r in (
        taker.post("snapshot", jpeg()),
        taker.post("id_photo", jpeg()),
        taker.begin(),
        taker.chunk(upload["id"], 1, webm(5_000)),
        taker.complete(upload["id"]),
    ):
        assert r.status_code == 409 and problem_type(r) == "attempt-closed", r.text
    assert objects(db, taker) == []
    assert taker.client.get(f"{taker.api}/uploads/{upload['id']}").status_code == 200


def test_uploads_are_taken_until_the_deadline_plus_grace(
    app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence
) -> None:
    taker = Taker(app, db, settings, time_limit_minutes=10, offline_grace_seconds=120)

    def deadline(ago: int) -> None:
        with db.unit_of_work(taker.tenant_id) as uow:
            attempt = uow.get(Attempt, uuid.UUID(taker.attempt_id))
            attempt.deadline = datetime.now(UTC) - timedelta(seconds=ago)

    upload = taker.begin().json()
    deadline(ago=60)  # within grace: the tail of a recording still lands
    assert taker.chunk(upload["id"], 0, webm(5_000)).status_code == 201
    assert taker.complete(upload["id"]).status_code == 200
    assert taker.post("snapshot", jpeg()).status_code == 201
    deadline(ago=121)  # grace over, even before the closing job runs
    r = taker.post("snapshot", jpeg())
    assert r.status_code == 409 and problem_type(r) == "attempt-closed"
    assert taker.begin().status_code == 409


def test_before_the_clock_starts_only_the_id_photo_is_taken(
    app: FastAPI, db: BoundDatabase, settings: Settings, evidence: Evidence
) -> None:
    _, token = invited(db, settings, proctoring_preset="high_stakes")
    client = browser(app)
    assert start(client, token).status_code == 303  # consented, not begun
    api = f"/take/{token}/api"
    r = client.post(f"{api}/evidence/snapshot", content=jpeg())
    assert r.status_code == 409 and problem_type(r) == "not-started"
    assert client.post(f"{api}/uploads", json={"kind": "recording_chunk"}).status_code == 409
    assert client.post(f"{api}/evidence/id_photo", content=jpeg()).status_code == 201


def test_a_recording_goes_in_chunks_and_unknown_kinds_are_refused(taker: Taker) -> None:
    r = taker.post("recording_chunk", webm(5_000), content_type="video/webm")
    assert r.status_code == 422 and "in chunks" in r.json()["detail"]
    r = taker.post("certificate", jpeg())
    assert r.status_code == 422 and "unknown evidence kind" in r.json()["detail"]
    assert taker.begin(kind="certificate").status_code == 422


def test_a_candidate_without_the_binding_cookie_uploads_nothing(
    app: FastAPI, db: BoundDatabase, taker: Taker
) -> None:
    stranger = TestClient(app, raise_server_exceptions=False)
    r = stranger.post(f"{taker.api}/evidence/snapshot", content=jpeg())
    assert r.status_code == 401
    assert objects(db, taker) == []
