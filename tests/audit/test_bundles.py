"""Evidence bundles through the API: request -> job -> ready -> signed download,
progress, failure and retry, refusals, expiry, and the anchored hash."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
import zipfile
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from invigil.audit import bundle_jobs, bundle_records
from invigil.audit import bundle_registry as registry
from invigil.audit.anchored import verify_records
from invigil.audit.models import AuditEvent, BundleRequest
from invigil.db.uow import UnitOfWork
from invigil.identity.models import User
from invigil.tenants.models import Tenant
from tests.audit.bundle_factories import Shape, sample_builder
from tests.conftest import BoundDatabase, bearer, make_user


def ask(client: TestClient, headers: dict[str, str], attempt_id: uuid.UUID) -> dict[str, object]:
    r = client.post(
        "/api/v1/bundles", json={"kind": "attempt", "subject_id": str(attempt_id)}, headers=headers
    )
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def run_job(app: FastAPI, db: BoundDatabase, tenant: Tenant, bundle_id: object) -> str:
    return bundle_jobs.build(db, app.state.services, tenant.id, uuid.UUID(str(bundle_id)))


def actions(db: BoundDatabase, tenant: Tenant, bundle_id: object) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        rows = uow.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == str(bundle_id))
            .order_by(AuditEvent.seq)
        )
        return [e.action for e in rows]


def row_of(db: BoundDatabase, tenant: Tenant, bundle_id: object) -> BundleRequest:
    with db.unit_of_work(tenant.id) as uow:
        return uow.get(BundleRequest, uuid.UUID(str(bundle_id)))


def test_a_bundle_is_requested_built_and_downloaded_through_a_signed_url(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    headers = bearer(app, db, admin)
    asked = ask(client, headers, attempt_id)
    assert asked["state"] == "queued" and asked["with_evidence"] is True
    with db.unit_of_work(tenant_a.id) as uow:
        queued = uow.session.execute(
            select(BundleRequest.id).where(BundleRequest.id == uuid.UUID(str(asked["id"])))
        ).scalar_one()
        job = uow.session.execute(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND args->>'bundle_id' = :i"
            ),
            {"t": "invigil:audit.build_bundle", "i": str(queued)},
        ).scalar_one()
    assert job == 1  # the job was queued in the request's transaction

    assert run_job(app, db, tenant_a, asked["id"]) == "ready"
    status = client.get(f"/api/v1/bundles/{asked['id']}", headers=headers).json()
    assert status["state"] == "ready"
    assert status["done"] == status["total"] == shape.members

    link = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=headers)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert urlsplit(url).path == f"/bundles/{asked['id']}/file"
    assert 0 < int(parse_qs(urlsplit(url).query)["expires"][0]) - time.time() <= 300
    got = client.get(url, headers=headers)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/zip"
    assert got.headers["cache-control"] == "private, no-store"
    assert hashlib.sha256(got.content).hexdigest() == status["sha256"] == link.json()["sha256"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        names = archive.namelist()
        assert len(names) == shape.members + 1
        assert len(archive.read(names[1])) == shape.member_size

    assert actions(db, tenant_a, asked["id"]) == [
        "bundle.requested",
        "bundle.ready",
        "bundle.url_issued",
        "bundle.downloaded",
    ]
    # the object in the store is encrypted: the ZIP's bytes are not in it
    row = row_of(db, tenant_a, asked["id"])
    assert row.store_key is not None and row.region is not None
    stored = b"".join(app.state.services.evidence.stores.for_region(row.region).get(row.store_key))
    assert stored[:4] == b"IVEV" and got.content[:64] not in stored


def test_the_ready_hash_is_anchored_and_a_changed_hash_is_found(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    asked = ask(client, bearer(app, db, admin), attempt_id)
    run_job(app, db, tenant_a, asked["id"])

    def problems(uow: UnitOfWork) -> list[str]:
        report = verify_records(uow, bundle_records.SOURCES)
        return [p for p in report.problems if str(asked["id"]) in p]

    with db.unit_of_work(tenant_a.id) as uow:
        assert problems(uow) == []
        uow.session.execute(
            update(BundleRequest)
            .where(BundleRequest.id == uuid.UUID(str(asked["id"])))
            .values(sha256="0" * 64)
        )
        assert problems(uow) != []


def test_progress_advances_in_its_own_transactions_while_the_bundle_streams(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = registry.registered()
    seen: list[tuple[str, int, int | None]] = []
    building: dict[str, object] = {}
    inner = sample_builder(Shape(members=4))

    def watching(uow: UnitOfWork, subject: object, sink: object, progress: object) -> None:
        def report(done: int, total: int | None = None) -> None:
            progress(done, total)  # type: ignore[operator]
            row = row_of(db, tenant_a, building["id"])
            seen.append((row.state, row.done, row.total))

        inner(uow, subject, sink, report)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle_jobs, "PROGRESS_SECONDS", 0)
    registry.register("attempt", watching)  # type: ignore[arg-type]
    try:
        building.update(ask(client, bearer(app, db, admin), attempt_id))
        assert run_job(app, db, tenant_a, building["id"]) == "ready"
    finally:
        registry.restore(saved)
    assert seen == [("building", n, 4) for n in (1, 2, 3, 4)]


def test_a_failure_is_recorded_with_its_reason_leaves_no_object_and_can_be_retried(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    headers = bearer(app, db, admin)
    shape.fail_at = 2
    asked = ask(client, headers, attempt_id)
    assert run_job(app, db, tenant_a, asked["id"]) == "failed"
    failed = client.get(f"/api/v1/bundles/{asked['id']}", headers=headers).json()
    assert failed["state"] == "failed"
    assert "recording chunk 7 is missing" in failed["error"]
    row = row_of(db, tenant_a, asked["id"])
    assert row.store_key is not None and row.region is not None
    store = app.state.services.evidence.stores.for_region(row.region)
    assert not store.exists(row.store_key)
    refused = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=headers)
    assert refused.status_code == 409

    shape.fail_at = None
    again = client.post(f"/api/v1/bundles/{asked['id']}/retry", headers=headers)
    assert again.status_code == 202 and again.json()["state"] == "queued"
    assert again.json()["error"] is None
    assert run_job(app, db, tenant_a, asked["id"]) == "ready"
    assert row_of(db, tenant_a, asked["id"]).attempts == 2
    assert store.exists(row.store_key)
    assert actions(db, tenant_a, asked["id"]) == [
        "bundle.requested",
        "bundle.failed",
        "bundle.retried",
        "bundle.ready",
    ]
    twice = client.post(f"/api/v1/bundles/{asked['id']}/retry", headers=headers)
    assert twice.status_code == 409


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


def test_expired_altered_and_other_viewers_links_are_refused(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    headers = bearer(app, db, admin)
    asked = ask(client, headers, attempt_id)
    run_job(app, db, tenant_a, asked["id"])
    url = client.get(f"/api/v1/bundles/{asked['id']}/download", headers=headers).json()["url"]
    signer = app.state.services.evidence.signer
    bundle_id = uuid.UUID(str(asked["id"]))

    old = signer.issue(bundle_id, admin.id, scope="bundle", now=time.time() - 600)
    assert client.get(old.url, headers=headers).status_code == 403
    assert "expired" in client.get(old.url, headers=headers).json()["detail"]

    other = make_user(db, tenant_a.id, ["tenant_admin"])
    stolen = client.get(url, headers=bearer(app, db, other))
    assert stolen.status_code == 403 and "another viewer" in stolen.json()["detail"]

    assert (
        client.get(
            with_query(url, expires=str(int(time.time()) + 200)), headers=headers
        ).status_code
        == 403
    )
    # a link to an evidence object with the same id does not open the bundle
    evidence_link = signer.issue(bundle_id, admin.id)
    forged = f"/bundles/{bundle_id}/file?{urlsplit(evidence_link.url).query}"
    assert client.get(forged, headers=headers).status_code == 403
    assert client.get(url).status_code == 401  # no session: the link alone is not enough

    downloads = [a for a in actions(db, tenant_a, asked["id"]) if a == "bundle.downloaded"]
    assert downloads == []  # nothing was handed out


def test_a_bundle_with_evidence_is_not_handed_to_a_viewer_without_evidence_view(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    viewer = bearer(app, db, make_user(db, tenant_a.id, ["results_viewer"]))
    theirs = ask(client, viewer, attempt_id)
    assert theirs["with_evidence"] is False  # hashes only, fixed at request time
    full = ask(client, bearer(app, db, admin), attempt_id)
    for asked in (theirs, full):
        run_job(app, db, tenant_a, asked["id"])
    assert client.get(f"/api/v1/bundles/{theirs['id']}/download", headers=viewer).status_code == 200
    refused = client.get(f"/api/v1/bundles/{full['id']}/download", headers=viewer)
    assert refused.status_code == 403 and "decrypted evidence" in refused.json()["detail"]


def test_another_tenants_bundle_answers_like_a_missing_one(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    tenant_b: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    asked = ask(client, bearer(app, db, admin), attempt_id)
    intruder = bearer(app, db, make_user(db, tenant_b.id, ["tenant_admin"]))
    missing = uuid.uuid4()
    for suffix in ("", "/download"):
        theirs = client.get(f"/api/v1/bundles/{asked['id']}{suffix}", headers=intruder)
        absent = client.get(f"/api/v1/bundles/{missing}{suffix}", headers=intruder)
        assert theirs.status_code == absent.status_code == 404
        assert theirs.json()["detail"].replace(str(asked["id"]), "X") == absent.json()[
            "detail"
        ].replace(str(missing), "X")
    # nor can they ask for a bundle of tenant A's attempt
    r = client.post(
        "/api/v1/bundles", json={"kind": "attempt", "subject_id": str(attempt_id)}, headers=intruder
    )
    assert r.status_code == 404


def test_the_body_is_validated_at_the_edge(
    app: FastAPI, client: TestClient, db: BoundDatabase, admin: User, shape: Shape
) -> None:
    headers = bearer(app, db, admin)
    for body in (
        {"kind": "exam", "subject_id": str(uuid.uuid4())},
        {"kind": "attempt", "subject_id": "nope"},
        {"kind": "attempt", "subject_id": str(uuid.uuid4()), "extra": 1},
    ):
        r = client.post("/api/v1/bundles", json=body, headers=headers)
        assert r.status_code == 422, body
    # Every kind is built on this server now; a missing subject is a 404.
    missing = client.post(
        "/api/v1/bundles",
        json={"kind": "certificate", "subject_id": str(uuid.uuid4())},
        headers=headers,
    )
    assert missing.status_code == 404


def test_expired_bundles_are_purged_and_their_rows_still_verify(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    admin: User,
    attempt_id: uuid.UUID,
    shape: Shape,
) -> None:
    from datetime import UTC, datetime, timedelta

    headers = bearer(app, db, admin)
    asked = ask(client, headers, attempt_id)
    run_job(app, db, tenant_a, asked["id"])
    row = row_of(db, tenant_a, asked["id"])
    assert row.expires_at is not None and row.finished_at is not None
    assert row.expires_at - row.finished_at == timedelta(
        days=app.state.services.settings.bundle_days
    )
    store = app.state.services.evidence.stores.for_region(row.region)
    assert bundle_jobs.purge_expired(db, app.state.services, tenant_a.id) == 0
    later = datetime.now(UTC) + timedelta(days=400)
    assert bundle_jobs.purge_expired(db, app.state.services, tenant_a.id, now=later) >= 1
    assert not store.exists(row.store_key)
    assert row_of(db, tenant_a, asked["id"]).state == "expired"
    assert client.get(f"/api/v1/bundles/{asked['id']}/download", headers=headers).status_code == 410
    assert actions(db, tenant_a, asked["id"])[-1] == "bundle.expired"
    with db.unit_of_work(tenant_a.id) as uow:
        report = verify_records(uow, bundle_records.SOURCES)
        assert [p for p in report.problems if str(asked["id"]) in p] == []
