"""LTI Dynamic Registration: the platform of the tests (tests/lti/lti_platform.py)
registers Invigil from a one-time registration URL, then launches with the
registration it made; every refusal answers a page and is audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.app import create_app
from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.lti import dynamic, keys, platforms, remote
from invigil.lti.models import LtiLink, LtiPlatform, LtiRegistrationUrl
from invigil.lti.registration_pages import reason_words
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user
from tests.identity.test_pages import csrf_of, page_sign_in
from tests.lti.lti_platform import LTI, Platform, platform
from tests.lti.test_lti import launch, learner
from tests.results.helpers import make_release_exam


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with platform() as running_lms:
        yield running_lms


@pytest.fixture
def app(settings: Settings, db: BoundDatabase) -> FastAPI:
    remote.forget()
    lti = settings.model_copy(update={"lti_allow_private": True, "lti_allow_http": True})
    return create_app(lti, db, run_jobs=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def made_url(app: FastAPI, db: BoundDatabase, tenant: Tenant, role: str | None = None) -> str:
    with db.unit_of_work(tenant.id, Actor.operator()) as uow:
        return dynamic.make(uow, app.state.services.settings, "", role).url


def open_url(client: TestClient, url: str, lms: Platform, **params: str) -> Any:
    query = {"openid_configuration": f"{lms.base}/openid-configuration"}
    if lms.registration_token:
        query["registration_token"] = lms.registration_token
    return client.get(urlsplit(url).path, params=query | params)


def refused_reasons(db: BoundDatabase, tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        rows = uow.session.execute(
            select(AuditEvent.payload).where(AuditEvent.action == "lti.registration_refused")
        )
        return [p["reason"] for (p,) in rows]


def says(r: Any, reason: str) -> bool:
    return reason_words(reason)[:40] in r.text.replace("&#39;", "'")


def test_a_platform_registers_itself_and_then_launches(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    url = made_url(app, db, tenant_a, "exam_author")
    lms.registration_token = f"rt-{uuid.uuid4().hex}"
    r = open_url(client, url, lms)
    assert r.status_code == 200, r.text
    assert 'id="lti-registered"' in r.text and "/static/staff/lti_close.js" in r.text
    assert f"frame-ancestors 'self' {lms.base}" in r.headers["content-security-policy"]
    body = lms.registrations[-1]
    tool = body["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in body["scope"].split()
    assert {m["type"] for m in tool["messages"]} == {"LtiResourceLinkRequest",
                                                      "LtiDeepLinkingRequest"}  # fmt: skip
    with db.unit_of_work(tenant_a.id) as uow:
        row = uow.scalar(select(LtiPlatform).where(LtiPlatform.client_id == lms.client_id))
        assert row is not None
        assert row.issuer == lms.issuer and row.deployment_ids == [lms.deployment_id]
        assert row.instructor_role == "exam_author" and row.name == "testlms"
        assert row.jwks_url == f"{lms.base}/jwks" and row.token_url == f"{lms.base}/token"
        key = row.public_key
        assert body["initiate_login_uri"] == platforms.ToolUrls.of(app.state.services.settings,
                                                                   key).login  # fmt: skip
        spent = uow.scalar(
            select(LtiRegistrationUrl).where(LtiRegistrationUrl.platform_id == row.id)
        )
        assert spent is not None and spent.used_at is not None
        spent_id = spent.id
        events = [
            p for (p,) in uow.session.execute(
                select(AuditEvent.payload).where(AuditEvent.action == "lti.platform_registered")
            ) if p.get("client_id") == lms.client_id
        ]  # fmt: skip
        assert events and events[0]["dynamic"] is True
        exam = make_release_exam(db, tenant_a.id, results_release="manual")
        lms.next_launch = lms.resource_launch("rl-dyn")
        uow.add(LtiLink(tenant_id=tenant_a.id, id=uuid.uuid4(), platform_id=row.id,
                        resource_link_id="rl-dyn", exam_id=exam))  # fmt: skip

    def tool_jwks() -> dict[str, Any]:
        with db.unit_of_work(tenant_a.id) as uow:
            return keys.jwks(uow, app.state.services.box)

    lms.tool_jwks = tool_jwks
    lms.person = learner()
    launched = launch(client, lms, key)
    assert launched.status_code == 200, launched.text
    assert "/take/gl." in launched.text
    assert lms.next_launch[LTI + "resource_link"]["id"] == "rl-dyn"
    # The URL is spent: opened again, it is refused (and audited).
    again = open_url(client, url, lms)
    assert again.status_code == 410 and says(again, "registration_used")
    assert "registration_used" in refused_reasons(db, tenant_a)
    with db.unit_of_work(tenant_a.id) as uow:  # the refusal names the spent URL
        subjects = uow.session.scalars(
            select(AuditEvent.subject_id).where(AuditEvent.action == "lti.registration_refused")
        )
        assert str(spent_id) in set(subjects)


def test_expired_unknown_and_foreign_urls_are_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant,
    lms: Platform,
) -> None:  # fmt: skip
    url = made_url(app, db, tenant_a)
    with db.unit_of_work(tenant_a.id) as uow:
        for row in uow.scalars(
            select(LtiRegistrationUrl).where(LtiRegistrationUrl.used_at.is_(None))
        ):
            row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    r = open_url(client, url, lms)
    assert r.status_code == 410 and says(r, "registration_expired")
    assert "registration_expired" in refused_reasons(db, tenant_a)
    forged = f"ltireg.{tenant_a.id.hex}.{'x' * 43}"
    r = open_url(client, f"/lti-registration/{forged}", lms)
    assert r.status_code == 404 and says(r, "registration_unknown")
    assert client.get("/lti-registration/nonsense").status_code == 404
    german = client.get("/lti-registration/nonsense", headers={"Accept-Language": "de"})
    assert "Diese Registrierungs-URL wurde schon verwendet" in german.text
    # Another tenant's token names that tenant: it cannot be spent as this tenant's.
    theirs = made_url(app, db, tenant_b)
    moved = theirs.replace(tenant_b.id.hex, tenant_a.id.hex)
    r = open_url(client, moved, lms)
    assert r.status_code == 404
    with db.unit_of_work(tenant_b.id) as uow:
        assert all(u.used_at is None for u in uow.scalars(select(LtiRegistrationUrl))
                   if u.expires_at > datetime.now(UTC))  # fmt: skip
    # Bounded: an over-long token or configuration URL is refused at the edge.
    assert client.get("/lti-registration/" + "a" * 200).status_code == 422
    r = client.get(urlsplit(theirs).path, params={"openid_configuration": "h" * 3000})
    assert r.status_code == 422


def test_issuer_mismatch_and_refusing_platforms(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    before = len(lms.registrations)
    lms.config_issuer = "https://elsewhere.example.org"
    try:
        r = open_url(client, made_url(app, db, tenant_a), lms)
    finally:
        lms.config_issuer = ""
    assert r.status_code == 400 and says(r, "registration_issuer")
    lms.registration_token = "expected"
    r = open_url(client, made_url(app, db, tenant_a), lms, registration_token="wrong")
    assert r.status_code == 502 and says(r, "registration_refused")
    lms.register_answer = 400
    try:
        r = open_url(client, made_url(app, db, tenant_a), lms)
    finally:
        lms.register_answer = 200
    assert r.status_code == 502 and says(r, "registration_refused")
    r = open_url(client, made_url(app, db, tenant_a), lms,
                 openid_configuration=f"{lms.base}/jwks")  # fmt: skip
    assert r.status_code == 502 and says(r, "registration_configuration")
    assert len(lms.registrations) == before
    reasons = refused_reasons(db, tenant_a)
    assert {"registration_issuer", "registration_refused", "registration_configuration"} <= set(
        reasons
    )


def test_registration_urls_over_the_api_and_the_page(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    headers = bearer(app, db, admin)
    r = client.post("/api/v1/lti/registration-urls", json={"name": "Moodle"}, headers=headers)
    assert r.status_code == 201, r.text
    assert "/lti-registration/ltireg." in r.json()["url"]
    bad = client.post("/api/v1/lti/registration-urls", json={"instructor_role": "tenant_admin"},
                      headers=headers)  # fmt: skip
    assert bad.status_code == 422 and "instructor_role" in bad.text
    with db.unit_of_work(tenant_a.id) as uow:  # only the hash is kept
        token = r.json()["url"].rsplit("/", 1)[1]
        rows = uow.scalars(select(LtiRegistrationUrl))
        assert all(token.encode() not in row.token_hash for row in rows)
    page_sign_in(client, tenant_a.slug, admin.email)
    page = client.get("/admin/lti")
    assert page.status_code == 200 and 'id="make-registration-url"' in page.text
    made = client.post("/admin/lti-registration-urls",
                       data={"csrf": csrf_of(page.text), "reg_name": "Canvas"})  # fmt: skip
    assert made.status_code == 200 and 'id="registration-url"' in made.text
    assert "/lti-registration/ltireg." in made.text
    wrong = client.post("/admin/lti-registration-urls",
                        data={"csrf": csrf_of(page.text), "reg_instructor_role": "nobody"})  # fmt: skip
    assert wrong.status_code == 422 and 'id="f-reg_instructor_role-err"' in wrong.text
