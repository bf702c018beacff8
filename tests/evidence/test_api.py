"""Signed URLs: issued to one staff viewer for one object and GET, valid five
minutes, honoured only with that viewer's session; both steps audited."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.evidence import service
from invigil.identity import auth
from invigil.identity.models import User
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, bearer, make_user
from tests.evidence.factories import jpeg


@pytest.fixture
def viewer(db: BoundDatabase, tenant_a: Tenant) -> User:
    return make_user(db, tenant_a.id, ["proctor_reviewer"])


@pytest.fixture
def stored(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> tuple[uuid.UUID, bytes]:
    data = jpeg(200_000)
    with db.unit_of_work(tenant_a.id) as uow:
        obj = service.store(
            uow,
            app.state.services.evidence,
            subject_type="candidate",
            subject_id="cand-1",
            kind_name="snapshot",
            data=[data],
        )
    return obj.id, data


def issue(client: TestClient, headers: dict[str, str], object_id: uuid.UUID) -> dict[str, str]:
    r = client.post(f"/api/v1/evidence/{object_id}/url", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return f"{parts.path}?{urlencode(query)}"


def events(db: BoundDatabase, tenant: Tenant, action: str) -> list[AuditEvent]:
    with db.unit_of_work(tenant.id) as uow:
        return uow.scalars(select(AuditEvent).where(AuditEvent.action == action))


def test_the_viewer_reads_the_object_with_a_bearer_token_and_both_steps_are_audited(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, data = stored
    headers = bearer(app, db, viewer)
    body = issue(client, headers, object_id)
    query = parse_qs(urlsplit(body["url"]).query)
    assert urlsplit(body["url"]).path == f"/evidence/{object_id}"
    assert query["viewer"] == [str(viewer.id)] and query["method"] == ["GET"]
    assert 0 < int(query["expires"][0]) - time.time() <= 300
    r = client.get(body["url"], headers=headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "private, no-store"
    issued = events(db, tenant_a, "evidence.url_issued")
    read = events(db, tenant_a, "evidence.read")
    assert [e.subject_id for e in issued] == [str(object_id)]
    assert [e.actor_id for e in read] == [str(viewer.id)]
    assert read[0].payload["viewer"] == str(viewer.id)


def test_the_viewer_reads_the_object_with_a_web_session(
    app: FastAPI,
    db: BoundDatabase,
    tenant_a: Tenant,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, data = stored
    with TestClient(app) as api:
        url = issue(api, bearer(app, db, viewer), object_id)["url"]
    with db.unit_of_work(tenant_a.id) as uow:
        _, secret = auth.open_session(
            uow,
            app.state.settings,
            viewer,
            kind="web",
            address="t",
            user_agent="t",
            enroll_only=False,
        )
    browser = TestClient(app, raise_server_exceptions=False)
    browser.cookies.set(COOKIE, secret)
    r = browser.get(url)
    assert r.status_code == 200 and r.content == data


@pytest.mark.parametrize(
    "change",
    ["sig", "viewer", "expires", "method", "object", "drop-sig"],
)
def test_a_tampered_url_is_refused(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
    change: str,
) -> None:
    object_id, _ = stored
    headers = bearer(app, db, viewer)
    url = issue(client, headers, object_id)["url"]
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    if change == "sig":
        url = with_query(url, sig=("A" if sig[0] != "A" else "B") + sig[1:])
    elif change == "viewer":
        url = with_query(url, viewer=str(uuid.uuid4()))
    elif change == "expires":
        url = with_query(url, expires=str(int(time.time()) + 200))
    elif change == "method":
        url = with_query(url, method="DELETE")
    elif change == "object":
        url = url.replace(str(object_id), str(uuid.uuid4()))
    elif change == "drop-sig":
        url = url.split("&sig=")[0]
    r = client.get(url, headers=headers)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "link" in r.json()["detail"]


def test_an_expired_url_is_refused(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, _ = stored
    old = app.state.services.evidence.signer.issue(object_id, viewer.id, now=time.time() - 301)
    r = client.get(old.url, headers=bearer(app, db, viewer))
    assert r.status_code == 403 and "expired" in r.json()["detail"]


def test_a_lifetime_beyond_five_minutes_is_refused(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, _ = stored
    signer = app.state.services.evidence.signer
    future = signer.issue(object_id, viewer.id, now=time.time() + 3600)
    r = client.get(future.url, headers=bearer(app, db, viewer))
    assert r.status_code == 403 and "too long" in r.json()["detail"]


def test_another_viewer_cannot_use_the_url(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, _ = stored
    url = issue(client, bearer(app, db, viewer), object_id)["url"]
    colleague = make_user(db, tenant_a.id, ["proctor_reviewer"])
    r = client.get(url, headers=bearer(app, db, colleague))
    assert r.status_code == 403 and "another viewer" in r.json()["detail"]
    assert events(db, tenant_a, "evidence.read") == []


def test_a_url_without_a_session_is_refused(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, _ = stored
    url = issue(client, bearer(app, db, viewer), object_id)["url"]
    r = client.get(url, headers={"Accept": "application/json"})
    assert r.status_code == 401 and "sign in" in r.json()["detail"]
    page = client.get(url)  # a browser without a session gets a page, not bytes
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")


def test_an_erased_object_is_gone(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    viewer: User,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, _ = stored
    headers = bearer(app, db, viewer)
    url = issue(client, headers, object_id)["url"]
    with db.unit_of_work(tenant_a.id) as uow:
        service.erase_subject(uow, "candidate", "cand-1", "retention")
    r = client.get(url, headers=headers)
    assert r.status_code == 410 and "this evidence was erased on" in r.json()["detail"]
    r = client.post(f"/api/v1/evidence/{object_id}/url", headers=headers)
    assert r.status_code == 410


def test_roles_without_evidence_view_cannot_issue(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    stored: tuple[uuid.UUID, bytes],
) -> None:
    object_id, _ = stored
    grader = make_user(db, tenant_a.id, ["grader"])
    r = client.post(f"/api/v1/evidence/{object_id}/url", headers=bearer(app, db, grader))
    assert r.status_code == 403


def test_readiness_probes_every_regional_store(client: TestClient) -> None:
    check = client.get("/readyz").json()["checks"]["object_store"]
    assert check["ok"] and "eu-central: local:" in check["detail"]
