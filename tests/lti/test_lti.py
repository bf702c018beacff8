"""Invigil as an LTI 1.3 tool, against a platform of the tests' own
(tests/lti/lti_platform.py): registration, launches and every refusal the
id_token's checks make, learners into the exam, instructors into staff
pages and deep linking (the gradebook: test_gradebook.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from invigil.app import create_app
from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.identity.pages import sentence
from invigil.lti import keys, platforms, remote
from invigil.lti.launch_pages import LTI_COOKIE, reason_words
from invigil.lti.models import LtiLink, LtiSeat
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, bearer, make_user
from tests.lti.lti_platform import INSTRUCTOR, LTI, Platform, platform
from tests.results.helpers import make_release_exam


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with platform() as running_lms:
        yield running_lms


@pytest.fixture
def lti_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"lti_allow_private": True, "lti_allow_http": True})


@pytest.fixture
def app(lti_settings: Settings, db: BoundDatabase) -> FastAPI:
    remote.forget()
    return create_app(lti_settings, db, run_jobs=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def register(app: FastAPI, db: BoundDatabase, tenant: Tenant, lms: Platform, **extra: Any) -> str:
    settings = app.state.services.settings
    lms.client_id = f"client-{uuid.uuid4().hex[:8]}"
    values = platforms.Values(**(lms.registration() | extra))
    with db.unit_of_work(tenant.id, Actor.operator()) as uow:
        key = platforms.create(uow, settings, values).public_key
    lms.redirect_uri = platforms.ToolUrls.of(settings, key).launch
    lms.tool_login = platforms.ToolUrls.of(settings, key).login

    def tool_jwks() -> dict[str, Any]:
        with db.unit_of_work(tenant.id) as uow:
            return keys.jwks(uow, app.state.services.box)

    lms.tool_jwks = tool_jwks
    return key


def learner(**claims: Any) -> dict[str, Any]:
    sub = f"u-{uuid.uuid4().hex[:10]}"
    return {"sub": sub, "name": "Lea Learner", "email": f"{sub}@school.test"} | claims


def login(client: TestClient, lms: Platform, key: str, *, post: bool = False) -> str:
    params = {
        "iss": lms.issuer, "login_hint": lms.person["sub"], "target_link_uri": lms.redirect_uri,
        "client_id": lms.client_id, "lti_deployment_id": lms.deployment_id,
    }  # fmt: skip
    if post:
        r = client.post(f"/lti/{key}/login", data=params, follow_redirects=False)
    else:
        r = client.get(f"/lti/{key}/login", params=params, follow_redirects=False)
    assert r.status_code == 302, r.text
    assert LTI_COOKIE in r.headers["set-cookie"]
    return r.headers["location"]


def at_platform(url: str) -> dict[str, str]:
    r = httpx.get(url)
    assert r.status_code == 200, r.text
    return r.json()


def launch(client: TestClient, lms: Platform, key: str, *, post: bool = False) -> Response:
    answer = at_platform(login(client, lms, key, post=post))
    return client.post(
        urlsplit(answer["to"]).path, data={"id_token": answer["id_token"], "state": answer["state"]}
    )


def refusals(db: BoundDatabase, tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        rows = uow.session.execute(
            select(AuditEvent.payload).where(AuditEvent.action == "lti.launch_refused")
        )
        return [p["reason"] for (p,) in rows]


def assert_refused(r: Response, reason: str, status: int) -> None:
    assert r.status_code == status, r.text
    assert sentence(reason_words(reason)) in r.text.replace("&#39;", "'")
    assert f"{COOKIE}=" not in r.headers.get("set-cookie", "")


def map_link(db: BoundDatabase, tenant: Tenant, link_id: str, exam_id: uuid.UUID) -> None:
    with db.unit_of_work(tenant.id) as uow:
        link = uow.scalar(select(LtiLink).where(LtiLink.resource_link_id == link_id))
        assert link is not None
        link.exam_id = exam_id


def prepared(app: FastAPI, db: BoundDatabase, tenant: Tenant, lms: Platform, **extra: Any) -> str:
    """A registration and a resource link mapped to a published exam (manual release)."""
    key = register(app, db, tenant, lms, **extra)
    exam = make_release_exam(db, tenant.id, results_release="manual")
    lms.next_launch = lms.resource_launch(f"rl-{uuid.uuid4().hex[:6]}")
    link_id = lms.next_launch[LTI + "resource_link"]["id"]
    with db.unit_of_work(tenant.id) as uow:
        row = platforms.by_public_key(uow, key)
        assert row is not None
        uow.add(LtiLink(tenant_id=tenant.id, id=uuid.uuid4(), platform_id=row.id,
                        resource_link_id=link_id, exam_id=exam))  # fmt: skip
    return key


# -- the launch ----------------------------------------------------------------------------


def test_a_learner_launch_lands_on_the_exam(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    r = launch(client, lms, key)
    assert r.status_code == 200, r.text
    assert 'id="lti-continue"' in r.text and "/take/gl." in r.text
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {lms.base}" in csp  # the platform may frame this answer
    target = r.text.split('href="', 2)[2].split('"', 1)[0] if False else None
    take = next(p for p in r.text.split('"') if "/take/gl." in p)
    landing = client.get(urlsplit(take).path)
    assert landing.status_code == 200
    assert target is None
    # Launched again: the same invitation, a fresh link.
    again = launch(client, lms, key)
    assert again.status_code == 200
    with db.unit_of_work(tenant_a.id) as uow:
        assert len(uow.scalars(select(LtiSeat))) == 1


def test_login_by_post_works_too(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    assert launch(client, lms, key, post=True).status_code == 200
    sent = lms.last_auth
    assert sent["response_mode"] == "form_post" and sent["prompt"] == "none"
    assert sent["redirect_uri"] == lms.redirect_uri


@pytest.mark.parametrize(
    ("bend", "reason", "status"),
    [
        ({"_tamper": True}, "token_signature", 401),
        ({"exp": 1_000_000, "iat": 999_000}, "token_expired", 401),
        ({"aud": "someone-else", "azp": None}, "token_aud", 401),
        ({"iss": "https://evil.test"}, "token_iss", 401),
        ({LTI + "deployment_id": "dep-unknown"}, "deployment_unknown", 403),
        ({LTI + "message_type": "LtiSubmissionReviewRequest"}, "message_type", 403),
        ({LTI + "version": "1.1"}, "token_version", 401),
        ({"nonce": "not-the-nonce"}, "token_nonce", 401),
        ({"_key": "other"}, "token_unknown_key", 401),
    ],
)
def test_a_bad_id_token_is_refused_with_a_page_and_an_audit_entry(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform,
    bend: dict[str, Any], reason: str, status: int,
) -> None:  # fmt: skip
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    if bend.get("_key") == "other":
        from joserfc.jwk import RSAKey

        bend = {"_key": RSAKey.generate_key(2048, parameters={"kid": "forged"}, private=True)}
    lms.bend = bend
    assert_refused(launch(client, lms, key), reason, status)
    assert refusals(db, tenant_a)[-1] == reason


def test_a_replayed_launch_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    answer = at_platform(login(client, lms, key))
    form = {"id_token": answer["id_token"], "state": answer["state"]}
    assert client.post(f"/lti/{key}/launch", data=form).status_code == 200
    login(client, lms, key)  # a new cookie; the old state and its nonce are spent
    assert_refused(client.post(f"/lti/{key}/launch", data=form), "state_replayed", 400)
    assert refusals(db, tenant_a)[-1] == "state_replayed"


def test_another_browser_cannot_finish_the_launch(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    answer = at_platform(login(client, lms, key))
    with TestClient(app, raise_server_exceptions=False) as other:
        r = other.post(f"/lti/{key}/launch",
                       data={"id_token": answer["id_token"], "state": answer["state"]})  # fmt: skip
    assert_refused(r, "state_other_browser", 400)


def test_the_platform_rotating_its_keys_is_followed(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    assert launch(client, lms, key).status_code == 200
    lms.rotate()  # a new kid: fetched again at once
    remote._keys.update({k: (v[0] - 10, v[1]) for k, v in remote._keys.items()})
    assert launch(client, lms, key).status_code == 200


def test_an_unmapped_link_and_an_unknown_registration_are_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = register(app, db, tenant_a, lms)
    lms.person = learner()
    lms.next_launch = lms.resource_launch("rl-unmapped")
    assert_refused(launch(client, lms, key), "link_not_mapped", 409)
    assert refusals(db, tenant_a)[-1] == "link_not_mapped"
    r = client.get(f"/lti/lti.{uuid.uuid4().hex}.{'x' * 43}/login", params={"iss": lms.issuer})
    assert_refused(r, "not_configured", 404)


def test_a_platform_of_another_tenant_cannot_launch_here(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant,
    lms: Platform,
) -> None:  # fmt: skip
    key_a = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    answer = at_platform(login(client, lms, key_a))
    key_b = register(app, db, tenant_b, lms)
    r = client.post(f"/lti/{key_b}/launch",
                    data={"id_token": answer["id_token"], "state": answer["state"]})  # fmt: skip
    assert_refused(r, "state_unknown", 400)


# -- instructors ---------------------------------------------------------------------------


def test_an_instructor_becomes_staff_and_lands_on_staff_pages(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms, instructor_role="exam_author")
    lms.person = learner(name="Ian Instructor")
    lms.next_launch |= {LTI + "roles": [INSTRUCTOR]}
    r = launch(client, lms, key)
    assert r.status_code == 200, r.text
    handoff = r.text.split('name="handoff" value="', 1)[1].split('"', 1)[0]
    entered = client.post("/lti/enter", data={"handoff": handoff})
    assert entered.status_code == 200 and "samesite=strict" in entered.headers["set-cookie"].lower()
    assert client.get("/home").status_code == 200
    assert client.post("/lti/enter", data={"handoff": handoff}).status_code == 400  # once


def test_instructors_are_refused_without_a_role_and_admins_are_never_opened(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = prepared(app, db, tenant_a, lms)
    lms.person = learner()
    lms.next_launch |= {LTI + "roles": [INSTRUCTOR]}
    assert_refused(launch(client, lms, key), "no_staff_role", 403)
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    key = prepared(app, db, tenant_a, lms, instructor_role="exam_author")
    lms.person = learner(email=admin.email)
    lms.next_launch |= {LTI + "roles": [INSTRUCTOR]}
    assert_refused(launch(client, lms, key), "email_taken", 403)


# -- deep linking --------------------------------------------------------------------------


def test_deep_linking_adds_an_exam_and_maps_the_new_link(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key = register(app, db, tenant_a, lms, instructor_role="exam_author")
    exam = make_release_exam(db, tenant_a.id)
    lms.person = learner()
    lms.next_launch = {
        LTI + "message_type": "LtiDeepLinkingRequest", LTI + "version": "1.3.0",
        LTI + "deployment_id": lms.deployment_id, LTI + "roles": [INSTRUCTOR],
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
            "deep_link_return_url": f"{lms.base}/deep-link-return",
            "accept_types": ["ltiResourceLink"], "data": "opaque-1",
        },
    }  # fmt: skip
    r = launch(client, lms, key)
    assert r.status_code == 200 and str(exam) in r.text, (
        refusals(db, tenant_a),
        r.text[r.text.find("lti-refused") :][:300],
    )
    pick = r.text.split('name="pick" value="', 1)[1].split('"', 1)[0]
    answer = client.post(f"/lti/{key}/deep-link", data={"pick": pick, "exam": str(exam)})
    assert answer.status_code == 200
    assert f"form-action 'self' {lms.base}" in answer.headers["content-security-policy"]
    jwt_value = answer.text.split('name="JWT" value="', 1)[1].split('"', 1)[0]
    back = httpx.post(f"{lms.base}/deep-link-return", data={"JWT": jwt_value})
    assert back.status_code == 200
    claims = lms.deep_link_answers[-1]
    item = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"][0]
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"invigil_exam": str(exam)}
    assert item["lineItem"]["scoreMaximum"] == 100
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-1"
    # The platform's first launch of the new link carries the exam back.
    lms.person = learner()
    lms.next_launch = lms.resource_launch("rl-from-deep-link") | {LTI + "custom": item["custom"]}
    assert launch(client, lms, key).status_code == 200


# -- registration ----------------------------------------------------------------------------
# (A released result reaching the gradebook: tests/lti/test_gradebook.py.)


def test_registration_api_and_pages(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    headers = bearer(app, db, admin)
    body = lms.registration() | {"client_id": f"api-{uuid.uuid4().hex[:6]}"}
    r = client.post("/api/v1/lti/platforms", json=body, headers=headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["tool"]["login_url"].endswith("/login") and out["tool"]["jwks_url"].endswith("/jwks")
    jwks = client.get(urlsplit(out["tool"]["jwks_url"]).path).json()
    assert jwks["keys"][0]["kty"] == "RSA" and "d" not in jwks["keys"][0]
    bad = client.post("/api/v1/lti/platforms", json=body | {"deployment_ids": []}, headers=headers)
    assert bad.status_code == 422
    rotated = client.post("/api/v1/lti/keys/rotate", headers=headers).json()["kid"]
    kids = [k["kid"] for k in client.get(urlsplit(out["tool"]["jwks_url"]).path).json()["keys"]]
    assert rotated in kids and len(kids) == 2
    assert client.delete(f"/api/v1/lti/platforms/{out['id']}", headers=headers).status_code == 204
