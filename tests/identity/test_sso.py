"""Staff single sign-on against a real OpenID Provider (tests/identity/oidc_provider.py):
the happy path, every refusal the ID token's checks make, matching and making
accounts, roles from claims, "single sign-on required", the second factor,
tenant isolation, and the settings page and API."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from joserfc.jwk import RSAKey
from sqlalchemy import select

from invigil.app import create_app
from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.identity import auth, mfa, oidc, service, sso, sso_signin
from invigil.identity.models import SignInFailure, SsoIdentity, User
from invigil.identity.pages import sentence
from invigil.identity.pages.sso import REASONS, SSO_COOKIE, reason_words
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, make_tenant, make_user, sign_in
from tests.identity.oidc_provider import Provider, provider
from tests.identity.test_pages import csrf_of, page_sign_in
from tests.test_pages_matrix import web_client


@pytest.fixture(scope="module")
def op() -> Iterator[Provider]:
    with provider() as running_op:
        yield running_op


@pytest.fixture
def sso_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sso_allow_private": True, "sso_allow_http": True})


@pytest.fixture
def app(sso_settings: Settings, db: BoundDatabase) -> FastAPI:
    oidc.forget()
    return create_app(sso_settings, db, run_jobs=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def configure(app: FastAPI, db: BoundDatabase, tenant: Tenant, op: Provider, **extra: Any) -> str:
    """The tenant's provider, registered at the OP with a client of its own."""
    client_id, secret = f"invigil-{uuid.uuid4().hex[:8]}", f"secret-{uuid.uuid4().hex}"
    settings, box = app.state.services.settings, app.state.services.box
    op.register(client_id, secret, sso_signin.callback_url(settings))
    values: dict[str, Any] = {
        "enabled": True, "display_name": "Test IdP", "issuer": op.issuer,
        "client_id": client_id, "client_secret": secret, "allowed_domains": ["staff.test"],
    } | extra  # fmt: skip
    with db.unit_of_work(tenant.id, Actor.operator()) as uow:
        sso.update(uow, settings, box, **values)
    return client_id


def person(email: str, **claims: Any) -> dict[str, Any]:
    return {"sub": f"sub-{uuid.uuid4().hex}", "email": email, "email_verified": True} | claims


def start(client: TestClient, slug: str) -> str:
    r = client.get("/signin/sso", params={"tenant": slug}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert (
        SSO_COOKIE in r.headers["set-cookie"] and "samesite=lax" in r.headers["set-cookie"].lower()
    )
    return r.headers["location"]


def at_provider(url: str) -> str:
    """The browser at the OP: it signs the person in and sends them back."""
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    back = urlsplit(r.headers["location"])
    return f"{back.path}?{back.query}"


def sso_sign_in(client: TestClient, slug: str) -> Response:
    return client.get(at_provider(start(client, slug)), follow_redirects=False)


def actions(db: BoundDatabase, tenant: Tenant) -> list[tuple[str, dict[str, Any]]]:
    with db.unit_of_work(tenant.id) as uow:
        rows = uow.session.execute(
            select(AuditEvent.action, AuditEvent.payload).order_by(AuditEvent.seq)
        )
        return [(a, p) for a, p in rows]


def refusals(db: BoundDatabase, tenant: Tenant) -> list[str]:
    return [
        p["reason"]
        for a, p in actions(db, tenant)
        if a == "auth.sign_in_failed" and p.get("method") == "sso"
    ]


def assert_refused(r: Response, reason: str, status: int = 401) -> None:
    assert r.status_code == status, r.text
    assert sentence(reason_words(reason)) in r.text.replace("&#39;", "'")
    assert f"{COOKIE}=" not in r.headers.get("set-cookie", "")


# -- signing in -----------------------------------------------------------------------------


def test_a_staff_member_signs_in_through_the_provider_and_lands_on_home(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    button = client.get("/signin", params={"tenant": tenant_a.slug})
    assert "Sign in with Test IdP" in button.text and 'id="sso-start"' in button.text
    op.person = person(user.email, name="Grace Grader")
    r = sso_sign_in(client, tenant_a.slug)
    assert r.status_code == 200, r.text
    assert 'http-equiv="refresh" content="0;url=/home"' in r.text
    cookie = r.headers["set-cookie"]
    assert f"{COOKIE}=ws." in cookie and "samesite=strict" in cookie.lower()
    home = client.get("/home")
    assert home.status_code == 200 and user.email in home.text
    done = actions(db, tenant_a)
    assert ("sso.identity_linked", done[-2][1]) in done
    signed = [p for a, p in done if a == "auth.signed_in"][-1]
    assert signed["method"] == "sso" and signed["mfa"] is False
    # Linked: the next time the subject decides, whatever the e-mail says now.
    op.person = op.person | {"email": "grace.new@staff.test"}
    client.cookies.clear()
    again = sso_sign_in(client, tenant_a.slug)
    assert again.status_code == 200
    with db.unit_of_work(tenant_a.id) as uow:
        links = uow.scalars(select(SsoIdentity).where(SsoIdentity.user_id == user.id))
        assert len(links) == 1 and links[0].subject == op.person["sub"]


def test_the_sign_in_page_has_no_button_without_single_sign_on(
    client: TestClient, tenant_b: Tenant
) -> None:
    page = client.get("/signin", params={"tenant": tenant_b.slug})
    assert page.status_code == 200 and 'id="sso-start"' not in page.text
    r = client.get("/signin/sso", params={"tenant": tenant_b.slug}, follow_redirects=False)
    assert_refused(r, "not_configured", 400)
    nowhere = client.get("/signin/sso", params={"tenant": "no-such-tenant"})
    assert_refused(nowhere, "not_configured", 400)


@pytest.mark.parametrize(
    ("bend", "reason"),
    [
        ({"aud": "someone-else"}, "token_aud"),
        ({"iss": "https://impostor.example"}, "token_iss"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "token_expired"),
        ({"nonce": "a-nonce-from-another-sign-in"}, "token_nonce"),
        ({"_tamper": True}, "token_signature"),
        ({"aud": ["CLIENT", "another-client"]}, "token_azp"),
        ({"azp": "another-client"}, "token_azp"),
        ({"iat": int(time.time()) + 3600}, "token_claims"),
    ],
)
def test_an_id_token_that_does_not_hold_is_refused(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    op: Provider,
    bend: dict[str, Any],
    reason: str,
) -> None:
    client_id = configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email)
    if bend.get("aud") and isinstance(bend["aud"], list):
        bend = {"aud": [client_id, "another-client"]}  # several audiences, no azp
    op.bend = bend
    r = sso_sign_in(client, tenant_a.slug)
    assert_refused(r, reason)
    assert refusals(db, tenant_a)[-1] == f"sso_{reason}"
    assert client.get("/home", follow_redirects=False).status_code == 303


def test_several_audiences_with_our_azp_are_accepted(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    client_id = configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email)
    op.bend = {"aud": [client_id, "another-client"], "azp": client_id}
    assert sso_sign_in(client, tenant_a.slug).status_code == 200


def test_a_key_the_provider_never_published_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email)
    op.bend = {"_key": RSAKey.generate_key(2048, parameters={"kid": "stranger"}, private=True)}
    assert_refused(sso_sign_in(client, tenant_a.slug), "token_unknown_key")


def test_the_providers_key_rotation_is_followed(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email)
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    fetched = op.jwks_fetches
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    assert op.jwks_fetches == fetched  # cached
    time.sleep(oidc.REFETCH_AFTER)
    op.rotate()  # a new kid; the old key is gone
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    assert op.jwks_fetches == fetched + 1


def test_a_state_is_used_once_and_only_by_the_browser_that_began_it(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email)
    back = at_provider(start(client, tenant_a.slug))
    assert client.get(back, follow_redirects=False).status_code == 200
    client.cookies.delete(COOKIE)
    # The same answer again (the browser still has its cookie): the state is spent.
    client.cookies.set(SSO_COOKIE, "", path="/signin/sso")
    replay = client.get(back, follow_redirects=False)
    assert_refused(replay, "state_replayed", 400)
    # Another browser with a fresh answer for this browser's sign-in.
    back = at_provider(start(client, tenant_a.slug))
    other = TestClient(app, raise_server_exceptions=False)
    assert_refused(other.get(back, follow_redirects=False), "state_other_browser", 400)
    assert_refused(client.get("/signin/sso/callback?state=st.x.y&code=z"), "state_unknown", 400)
    assert {"sso_state_replayed", "sso_state_other_browser"} <= set(refusals(db, tenant_a))


def test_the_provider_saying_no_is_a_clear_page(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    op.person = {"_deny": True}
    assert_refused(sso_sign_in(client, tenant_a.slug), "idp_error")


def test_an_unverified_email_and_a_foreign_domain_are_refused_and_counted(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email, email_verified=False)
    assert_refused(sso_sign_in(client, tenant_a.slug), "email_not_verified")
    outsider = make_user(
        db, tenant_a.id, ["grader"], email=f"x{uuid.uuid4().hex[:6]}@elsewhere.test"
    )
    op.person = person(outsider.email)
    assert_refused(sso_sign_in(client, tenant_a.slug), "email_domain")
    with db.unit_of_work(tenant_a.id) as uow:
        keys = uow.scalars(select(SignInFailure.email_key))
    assert user.email.lower() in keys and outsider.email.lower() in keys


def test_a_deactivated_account_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    make_user(db, tenant_a.id, ["tenant_admin"])  # not the last administrator
    user = make_user(db, tenant_a.id, ["grader"])
    with db.unit_of_work(tenant_a.id, Actor.operator()) as uow:
        service.deactivate_user(uow, user.id)
    op.person = person(user.email)
    assert_refused(sso_sign_in(client, tenant_a.slug), "not_active")


def test_accounts_are_made_on_first_sign_in_only_when_turned_on(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    email = f"new-{uuid.uuid4().hex[:6]}@staff.test"
    op.person = person(email, name="Nia New")
    assert_refused(sso_sign_in(client, tenant_a.slug), "no_account")
    configure(app, db, tenant_a, op, jit_enabled=True, jit_role="grader")
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    with db.unit_of_work(tenant_a.id) as uow:
        made = service.find_by_email(uow, email)
        assert made is not None and made.password_hash is None and made.display_name == "Nia New"
        assert [r.name for r in service.roles_of(uow, made.id)] == ["grader"]
    created = [p for a, p in actions(db, tenant_a) if a == "user.created"][-1]
    assert created["via"] == "sso"


def test_an_invited_account_is_activated_and_its_entries_name_no_person(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    """The provider vouches for the person an invitation was sent to: the
    account becomes active at their first sign-on. Like every staff action
    (tests/audit/test_no_staff_personal_data.py), the entries this writes hold
    no name, e-mail or part of one: the subject is the account's id."""
    from tests.audit.test_no_staff_personal_data import distinctive

    configure(app, db, tenant_a, op)
    name, email = "Ottoline Quennell-Brisbane", f"o.quennell-{uuid.uuid4().hex[:6]}@staff.test"
    with db.unit_of_work(tenant_a.id, Actor.operator()) as uow:
        invited, _ = service.invite_user(uow, email=email, roles=["grader"], display_name=name)
        invited_id = invited.id
    before = len(actions(db, tenant_a))
    op.person = person(email, name=name)
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    with db.unit_of_work(tenant_a.id) as uow:
        assert service.require_user(uow, invited_id).status == "active"
        rows = uow.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    written = rows[before:]
    assert "user.activated_by_sso" in [e.action for e in written]
    needles = distinctive((name, email))
    leaks = [
        (e.action, needle)
        for e in written
        for value in (e.action, e.subject_type, e.subject_id, e.actor_id, str(e.payload), e.entry)
        for needle in needles
        if needle in value.lower()
    ]
    assert leaks == []


def test_claim_values_give_roles_and_unknown_values_are_ignored(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    mapping = [("invigil-authors", "exam_author"), ("invigil-proctors", "proctor_reviewer")]
    configure(app, db, tenant_a, op, role_mappings=mapping, jit_enabled=True, jit_role="grader")
    email = f"mapped-{uuid.uuid4().hex[:6]}@staff.test"
    op.person = person(email, groups=["invigil-authors", "some-other-group"])
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    with db.unit_of_work(tenant_a.id) as uow:
        made = service.find_by_email(uow, email)
        assert made is not None
        assert [r.name for r in service.roles_of(uow, made.id)] == ["exam_author"]
    # An existing account: mapped roles follow the claim, other roles stay.
    user = make_user(db, tenant_a.id, ["grader", "exam_author"])
    op.person = person(user.email, groups=["invigil-proctors"])
    client.cookies.clear()
    assert sso_sign_in(client, tenant_a.slug).status_code == 200
    with db.unit_of_work(tenant_a.id) as uow:
        assert [r.name for r in service.roles_of(uow, user.id)] == ["grader", "proctor_reviewer"]
    via = [p.get("via") for a, p in actions(db, tenant_a) if a in ("role.granted", "role.revoked")]
    assert via[-2:] == ["sso", "sso"]


def test_mapping_a_role_needs_every_permission_of_it(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    name = f"settings_{uuid.uuid4().hex[:6]}"
    with db.unit_of_work(tenant_a.id, Actor.operator()) as uow:
        service.create_role(
            uow, name=name, description="", permissions=["tenant:manage", "account:self"]
        )
    client, csrf = web_client(app, db, tenant_a.id, [name])
    r = client.post(
        "/admin/sso",
        data={
            "csrf": csrf,
            "enabled": "on",
            "display_name": "Corp",
            "issuer": op.issuer,
            "client_id": "c",
            "client_secret": "s",
            "allowed_domains": "staff.test",
            "role_claim": "groups",
            "role_mappings": "finance = grader",
            "require_mfa": "on",
        },
    )
    assert r.status_code == 403 and "grade:submit" in r.text
    assert "access.denied" in [a for a, _ in actions(db, tenant_a)]


# -- passwords and the second factor ------------------------------------------------------------


def test_single_sign_on_required_refuses_passwords_except_break_glass(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    guard = make_user(db, tenant_a.id, ["tenant_admin"])
    staff = make_user(db, tenant_a.id, ["tenant_admin"])
    configure(app, db, tenant_a, op, sso_required=True, break_glass=[guard.id])
    refused = page_sign_in(client, tenant_a.slug, staff.email)
    assert refused.status_code == 401 and sentence(auth.SSO_REQUIRED) in refused.text
    api = sign_in(client, tenant_a.slug, staff.email)
    assert api.status_code == 401 and api.json()["sso_required"] is True
    wrong = sign_in(client, tenant_a.slug, staff.email, "not-the-password-1")
    assert wrong.status_code == 401 and "sso_required" not in wrong.json()  # says nothing more
    assert sign_in(client, tenant_a.slug, guard.email).status_code == 200
    assert page_sign_in(client, tenant_a.slug, guard.email).status_code == 303
    # Through the provider, the staff member still signs in.
    op.person = person(staff.email, amr=["pwd", "mfa"])
    client.cookies.clear()
    assert sso_sign_in(client, tenant_a.slug).status_code == 200


def _with_totp(app: FastAPI, db: BoundDatabase, user: User) -> pyotp.TOTP:
    box = app.state.services.box
    with db.unit_of_work(user.tenant_id, Actor("user", str(user.id))) as uow:
        row = uow.get(User, user.id)
        secret, _ = mfa.begin(uow, box, row)
        totp = pyotp.TOTP(secret)
        mfa.confirm(uow, box, row, totp.now())
    return totp


def test_invigils_code_is_asked_when_the_provider_did_not_check_a_second_factor(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op)
    user = make_user(db, tenant_a.id, ["grader"])
    totp = _with_totp(app, db, user)
    op.person = person(user.email, amr=["pwd"])
    ask = sso_sign_in(client, tenant_a.slug)
    assert ask.status_code == 200 and 'action="/signin/sso/code"' in ask.text
    assert f"{COOKIE}=" not in ask.headers.get("set-cookie", "")
    bad = client.post("/signin/sso/code", data={"otp": "000000", "csrf": csrf_of(ask.text)})
    assert bad.status_code == 401 and sentence(REASONS["bad_otp"]) in bad.text
    good = client.post(
        "/signin/sso/code",
        data={"otp": totp.now(), "csrf": csrf_of(ask.text)},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/home"
    assert client.get("/home").status_code == 200
    signed = [p for a, p in actions(db, tenant_a) if a == "auth.signed_in"][-1]
    assert signed["mfa_by"] == "totp"
    assert "sso_bad_otp" in refusals(db, tenant_a)
    # Without the browser's cookie the code form does nothing.
    stranger = TestClient(app, raise_server_exceptions=False)
    r = stranger.post("/signin/sso/code", data={"otp": totp.now(), "csrf": csrf_of(ask.text)})
    assert_refused(r, "state_other_browser", 400)


def test_a_second_factor_the_provider_asserts_is_enough(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    configure(app, db, tenant_a, op, mfa_acr_values=["urn:corp:mfa"])
    user = make_user(db, tenant_a.id, ["grader"])
    _with_totp(app, db, user)
    for claims in ({"amr": ["pwd", "mfa"]}, {"acr": "urn:corp:mfa"}):
        op.person = person(user.email, **claims) | {"sub": op.person.get("sub", "s-1")}
        client.cookies.clear()
        r = sso_sign_in(client, tenant_a.slug)
        assert r.status_code == 200 and 'content="0;url=/home"' in r.text, claims
        signed = [p for a, p in actions(db, tenant_a) if a == "auth.signed_in"][-1]
        assert signed["mfa_by"] == "idp"


def test_an_administrator_without_an_authenticator_may_only_set_one_up(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, op: Provider
) -> None:
    tenant = make_tenant(db, settings)
    configure(app, db, tenant, op)
    admin = make_user(db, tenant.id, ["tenant_admin"])
    with db.unit_of_work(tenant.id, Actor.operator()) as uow:
        uow.get(Tenant, tenant.id).require_mfa_for_admins = True
    op.person = person(admin.email)
    r = sso_sign_in(client, tenant.slug)
    assert r.status_code == 200 and 'content="0;url=/account"' in r.text
    assert client.get("/admin/users").status_code == 403
    # Asserted by the provider: the full session.
    op.person = op.person | {"amr": ["mfa"]}
    client.cookies.clear()
    assert 'content="0;url=/home"' in sso_sign_in(client, tenant.slug).text


# -- tenants apart ----------------------------------------------------------------------------


def test_one_tenants_provider_cannot_sign_anyone_into_another(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    tenant_a: Tenant,
    settings: Settings,
    op: Provider,
) -> None:
    tenant_c = make_tenant(db, settings)
    configure(app, db, tenant_a, op)
    configure(app, db, tenant_c, op)
    user = make_user(db, tenant_a.id, ["grader"])
    op.person = person(user.email)
    # Through C's provider settings: C has no such account (and makes none).
    assert_refused(sso_sign_in(client, tenant_c.slug), "no_account")
    # A's state with a code the provider issued to C's client: the exchange fails.
    a_back = urlsplit(at_provider(start(client, tenant_a.slug)))
    c_back = urlsplit(at_provider(start(TestClient(app), tenant_c.slug)))
    a_state = re.search(r"state=([^&]+)", a_back.query)
    c_code = re.search(r"code=([^&]+)", c_back.query)
    assert a_state and c_code
    mixed = client.get(
        f"/signin/sso/callback?code={c_code.group(1)}&state={a_state.group(1)}",
        follow_redirects=False,
    )
    assert_refused(mixed, "provider_answer", 502)
    assert client.get("/home", follow_redirects=False).status_code == 303
    with db.unit_of_work(tenant_c.id) as uow:
        assert uow.scalars(select(SsoIdentity)) == []


# -- the settings ---------------------------------------------------------------------------


def test_the_settings_page_saves_audits_and_never_shows_the_secret(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, ["tenant_admin"])
    page = client.get("/admin/sso")
    assert page.status_code == 200 and "/signin/sso/callback" in page.text
    form = {
        "csrf": csrf,
        "enabled": "on",
        "display_name": "Corp Login",
        "issuer": op.issuer,
        "client_id": "invigil-web",
        "client_secret": "very-secret-value-123",
        "allowed_domains": "staff.test\nCorp.Example",
        "role_claim": "groups",
        "role_mappings": "authors = exam_author",
        "jit_role": "grader",
        "require_mfa": "on",
    }
    saved = client.post("/admin/sso", data=form)
    assert saved.status_code == 303, saved.text
    shown = client.get("/admin/sso").text
    assert "Corp Login" in shown and "corp.example" in shown
    assert "very-secret-value-123" not in shown and "A secret is stored" in shown
    entry = [p for a, p in actions(db, tenant_a) if a == "sso.settings_changed"][-1]
    assert entry["secret_changed"] is True and "very-secret-value-123" not in str(entry)
    assert entry["after"]["role_mappings"] == [{"value": "authors", "role": "exam_author"}]
    bad = client.post("/admin/sso", data=form | {"issuer": "ftp://nowhere", "client_secret": ""})
    assert bad.status_code == 422 and 'href="#f-issuer"' in bad.text
    unknown = client.post("/admin/sso", data=form | {"role_mappings": "x = no_such_role"})
    assert unknown.status_code == 422 and 'href="#f-role_mappings"' in unknown.text
    required = client.post("/admin/sso", data=form | {"enabled": "", "sso_required": "on"})
    assert required.status_code == 409


def test_the_api_reads_writes_and_removes_the_settings(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, op: Provider
) -> None:
    from tests.conftest import bearer

    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    headers = bearer(app, db, admin)
    assert client.get("/api/v1/tenant/sso", headers=headers).json()["configured"] is False
    body = {
        "enabled": True,
        "display_name": "Okta",
        "issuer": op.issuer,
        "client_id": "abc",
        "client_secret": "top-secret-42",
        "allowed_domains": ["staff.test"],
        "role_mappings": [{"value": "g1", "role": "grader"}],
        "break_glass_user_ids": [str(admin.id)],
    }
    put = client.put("/api/v1/tenant/sso", json=body, headers=headers)
    assert put.status_code == 200, put.text
    got = client.get("/api/v1/tenant/sso", headers=headers).json()
    assert got["has_client_secret"] is True and "top-secret-42" not in str(got)
    assert got["redirect_uri"].endswith("/signin/sso/callback")
    assert got["break_glass_user_ids"] == [str(admin.id)]
    kept = client.put(
        "/api/v1/tenant/sso", json={k: v for k, v in body.items() if k != "client_secret"},
        headers=headers,
    )  # fmt: skip
    assert kept.json()["has_client_secret"] is True
    grader = make_user(db, tenant_a.id, ["grader"])
    bad = client.put(
        "/api/v1/tenant/sso", json=body | {"break_glass_user_ids": [str(grader.id)]},
        headers=headers,
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "break_glass"
    long = client.put("/api/v1/tenant/sso", json=body | {"client_id": "x" * 501}, headers=headers)
    assert long.status_code == 422 and "client_id" in long.text
    assert client.delete("/api/v1/tenant/sso", headers=headers).status_code == 204
    assert client.get("/api/v1/tenant/sso", headers=headers).json()["configured"] is False
    done = [a for a, _ in actions(db, tenant_a)]
    assert "sso.settings_changed" in done and "sso.settings_removed" in done
    not_admin = bearer(app, db, grader)
    assert client.get("/api/v1/tenant/sso", headers=not_admin).status_code == 403


def test_every_refusal_has_words() -> None:
    for reason in (*REASONS, "state_expired", "token_iss", "provider_unreachable"):
        assert reason_words(reason)
