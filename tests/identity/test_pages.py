"""The staff pages over HTTP (TestClient): sign-in, the session cookie, CSRF,
permissions, tenant isolation, and the forms doing what the API does."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.identity import auth
from invigil.identity.models import AuthSession, Role, User
from invigil.identity.pages import sentence
from invigil.tenants.models import Tenant
from invigil.web.session import COOKIE
from tests.conftest import PASSWORD, BoundDatabase, make_user


def page_sign_in(
    client: TestClient, tenant: str, email: str, password: str = PASSWORD, **extra: str
) -> Response:
    form = client.get("/signin")  # the form's token, bound to its pre-session cookie
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf, "no CSRF field on the sign-in form"
    return client.post(
        "/signin",
        data={"tenant": tenant, "email": email, "password": password, "csrf": csrf.group(1)}
        | extra,
        follow_redirects=False,
    )


def signed_in(client: TestClient, db: BoundDatabase, tenant: Tenant, roles: list[str]) -> User:
    user = make_user(db, tenant.id, roles)
    r = page_sign_in(client, tenant.slug, user.email)
    assert r.status_code == 303, r.text
    return user


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def actions(db: BoundDatabase, tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        return list(uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_an_unauthenticated_page_redirects_to_sign_in(client: TestClient) -> None:
    r = client.get("/admin/users", follow_redirects=False)
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/signin"
    assert parse_qs(location.query) == {"next": ["/admin/users"]}


def test_the_sign_in_page_has_labelled_fields(client: TestClient) -> None:
    r = client.get("/signin?next=/admin/roles")
    assert r.status_code == 200
    for field in ("tenant", "email", "password", "otp"):
        assert f'<label for="{field}">' in r.text
    assert 'name="next" value="/admin/roles"' in r.text


def test_sign_in_sets_an_http_only_strict_cookie(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["tenant_admin"])
    r = page_sign_in(client, tenant_a.slug, user.email)
    assert r.status_code == 303 and r.headers["location"] == "/home"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=ws.")
    attrs = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/", "max-age=43200"} <= attrs
    assert "secure" not in attrs  # plain http in tests; https sets Secure
    page = client.get("/admin/users")
    assert page.status_code == 200
    assert f"Signed in as <strong>{user.email}</strong> ({tenant_a.slug})" in page.text
    assert "auth.signed_in" in actions(db, tenant_a)


def test_sign_in_goes_to_next_only_within_the_site(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["tenant_admin"])
    ok = page_sign_in(client, tenant_a.slug, user.email, next="/admin/roles")
    assert ok.headers["location"] == "/admin/roles"
    for bad in (
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/signout",
        "/no-such-page",
    ):
        r = page_sign_in(client, tenant_a.slug, user.email, next=bad)
        assert r.headers["location"] == "/home", bad


def test_a_user_without_user_view_lands_on_the_home_page_too(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    r = page_sign_in(client, tenant_a.slug, user.email)
    assert r.status_code == 303 and r.headers["location"] == "/home"
    account = client.get("/account")
    assert account.status_code == 200 and user.email in account.text
    assert "Set up authenticator" in account.text


def test_failed_sign_in_is_neutral_keeps_fields_and_is_counted(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    wrong = page_sign_in(client, tenant_a.slug, user.email, "not-the-right-one-9")
    unknown = page_sign_in(client, tenant_a.slug, "nobody@staff.test", "not-the-right-one-9")
    no_tenant = page_sign_in(client, "no-such-tenant", user.email, "not-the-right-one-9")
    for r in (wrong, unknown, no_tenant):
        assert r.status_code == 401
        assert sentence(auth.FAILED) in r.text and 'role="alert"' in r.text
        assert "not-the-right-one-9" not in r.text
        assert COOKIE not in r.headers.get("set-cookie", "")
    assert f'value="{user.email}"' in wrong.text and f'value="{tenant_a.slug}"' in wrong.text
    # Committed although the sign-in failed (the test's outer transaction still sees it).
    assert actions(db, tenant_a).count("auth.sign_in_failed") == 2


def test_sign_in_asks_for_the_code_when_mfa_is_on(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = signed_in(client, db, tenant_a, ["grader"])
    setup = client.post("/account/totp", data={"csrf": csrf_of(client.get("/account").text)})
    assert setup.status_code == 200 and "<svg" in setup.text
    assert setup.headers["cache-control"] == "no-store"
    secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    bad = client.post(
        "/account/totp/confirm",
        data={"csrf": csrf_of(setup.text), "code": "000000"},
        follow_redirects=False,
    )
    assert bad.status_code == 422 and "That code is not valid" in bad.text
    ok = client.post(
        "/account/totp/confirm",
        data={"csrf": csrf_of(setup.text), "code": totp.now()},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/account"

    client.cookies.clear()
    no_code = page_sign_in(client, tenant_a.slug, user.email)
    assert no_code.status_code == 401
    assert "Enter the code from your authenticator app" in no_code.text
    with_code = page_sign_in(client, tenant_a.slug, user.email, otp=totp.now())
    assert with_code.status_code == 303


def test_an_admin_without_mfa_is_sent_to_enrol_when_the_tenant_requires_it(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    page = client.get("/admin/security")
    saved = client.post(
        "/admin/security",
        data={"csrf": csrf_of(page.text), "require_mfa_for_admins": "1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "checked" in client.get("/admin/security").text
    client.cookies.clear()

    other = make_user(db, tenant_a.id, ["tenant_admin"])
    r = page_sign_in(client, tenant_a.slug, other.email, next="/admin/users")
    assert r.headers["location"] == "/account"
    account = client.get("/account")
    assert "requires a second factor for administrators" in account.text
    assert "sign in again" in account.text
    assert client.get("/admin/users").status_code == 403

    # Enrolling ends this limited session: sign in again, with a code.
    setup = client.post("/account/totp", data={"csrf": csrf_of(account.text)})
    secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    done = client.post(
        "/account/totp/confirm",
        data={"csrf": csrf_of(setup.text), "code": totp.now()},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/signin?notice=sign-in-again"
    assert client.get("/account", follow_redirects=False).status_code == 303
    again = page_sign_in(client, tenant_a.slug, other.email, otp=totp.now())
    assert again.status_code == 303 and again.headers["location"] == "/home"
    assert client.get("/admin/users").status_code == 200


def test_a_grader_may_not_see_the_users_page(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = signed_in(client, db, tenant_a, ["grader"])
    r = client.get("/admin/users")
    assert r.status_code == 403
    assert "Not allowed" in r.text and "user:view" in r.text
    # The error page still shows who is signed in and can sign out.
    assert f"({tenant_a.slug})" in r.text and "Sign out" in r.text
    assert 'href="/admin/users"' not in r.text
    assert user.email  # the rolled-back request cannot show it; the tenant is enough


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    data = {"email": "new@staff.test", "roles": ["grader"]}
    for csrf in (None, "0" * 32):
        r = client.post("/admin/users", data=data if csrf is None else {**data, "csrf": csrf})
        assert r.status_code == 403 and "form expired" in r.text
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.scalar(select(User).where(User.email == "new@staff.test")) is None


def test_another_tenants_user_is_not_found(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    stranger = make_user(db, tenant_b.id, ["grader"])
    r = client.get(f"/admin/users/{stranger.id}")
    assert r.status_code == 404 and "Not found" in r.text and stranger.email not in r.text
    csrf = csrf_of(client.get("/admin/users").text)
    deactivate = client.post(f"/admin/users/{stranger.id}/deactivate", data={"csrf": csrf})
    assert deactivate.status_code == 404
    assert client.get("/admin/users/not-a-uuid").status_code == 404
    with db.unit_of_work(tenant_b.id) as uow:
        assert uow.get(User, stranger.id).status == "active"


def test_invite_shows_the_link_once_and_it_sets_the_password(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    csrf = csrf_of(client.get("/admin/users").text)
    r = client.post(
        "/admin/users",
        data={
            "csrf": csrf,
            "email": "ines@staff.test",
            "display_name": "Ines",
            "roles": ["exam_author"],
        },
    )
    assert r.status_code == 201, r.text
    link = re.search(r"(http\S+/account/set-password\?token=[\w.-]+)", r.text)
    assert link and 'role="status"' in r.text
    assert "ines@staff.test" in client.get("/admin/users").text
    assert link.group(1) not in client.get("/admin/users").text  # shown once

    duplicate = client.post(
        "/admin/users", data={"csrf": csrf, "email": "ines@staff.test", "roles": ["grader"]}
    )
    assert duplicate.status_code == 409 and 'role="alert"' in duplicate.text
    assert 'value="ines@staff.test"' in duplicate.text

    anonymous = TestClient(client.app)
    token = parse_qs(urlsplit(link.group(1)).query)["token"][0]
    form = anonymous.get(f"/account/set-password?token={token}")
    assert form.status_code == 200 and "ines@staff.test" in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    weak = anonymous.post(
        "/account/set-password",
        data={"token": token, "password": "short", "confirm_password": "short"},
    )
    assert weak.status_code == 422 and "at least 12" in weak.text
    done = anonymous.post(
        "/account/set-password",
        data={
            "token": token,
            "password": "copper-meadow-violin-7",
            "confirm_password": "copper-meadow-violin-7",
        },
    )
    assert done.status_code == 200 and "Your password is set" in done.text
    again = anonymous.get(f"/account/set-password?token={token}")
    assert again.status_code == 404 and "This link cannot be used" in again.text
    assert anonymous.get("/account/set-password?token=rubbish").status_code == 404
    signin = page_sign_in(anonymous, tenant_a.slug, "ines@staff.test", "copper-meadow-violin-7")
    assert signin.status_code == 303 and signin.headers["location"] == "/home"


def test_roles_deactivation_and_reset_through_the_user_page(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    target = make_user(db, tenant_a.id, ["grader"])
    page = client.get(f"/admin/users/{target.id}")
    assert page.status_code == 200 and target.email in page.text
    csrf = csrf_of(page.text)
    url = f"/admin/users/{target.id}"
    r = client.post(
        f"{url}/roles", data={"csrf": csrf, "roles": ["grader", "auditor"]}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == url
    none = client.post(f"{url}/roles", data={"csrf": csrf})
    assert none.status_code == 422 and "at least one role" in none.text
    reset = client.post(f"{url}/reset-password", data={"csrf": csrf})
    assert reset.status_code == 200 and "/account/set-password?token=ut." in reset.text
    assert client.post(f"{url}/deactivate", data={"csrf": csrf}).status_code == 200
    assert "deactivated" in client.get(url).text
    mfa = client.post(f"{url}/mfa/reset", data={"csrf": csrf})
    assert mfa.status_code == 409 and "No second factor is set up." in mfa.text
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.get(User, target.id).status == "deactivated"
    assert {"role.granted", "user.reset_link_issued", "user.deactivated"} <= set(
        actions(db, tenant_a)
    )


def test_custom_roles_are_created_edited_and_deleted(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    page = client.get("/admin/roles")
    assert page.status_code == 200 and "tenant_admin" in page.text
    csrf = csrf_of(page.text)
    bad = client.post(
        "/admin/roles", data={"csrf": csrf, "name": "Bad Name", "permissions": ["exam:view"]}
    )
    assert bad.status_code == 422 and 'value="Bad Name"' in bad.text
    r = client.post(
        "/admin/roles",
        data={
            "csrf": csrf,
            "name": "lead_author",
            "description": "Leads",
            "permissions": ["exam:view", "exam:publish"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    role_url = r.headers["location"].split("?")[0]
    edit = client.post(
        role_url,
        data={"csrf": csrf, "description": "Leads exams", "permissions": ["exam:view"]},
        follow_redirects=False,
    )
    assert edit.status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        role = uow.scalar(select(Role).where(Role.name == "lead_author"))
        assert role is not None and role.permissions == ["exam:view"]
    deleted = client.post(f"{role_url}/delete", data={"csrf": csrf}, follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"].startswith("/admin/roles")
    builtin = client.get("/admin/roles").text
    admin_id = re.search(r'href="/admin/roles/([0-9a-f-]+)">tenant_admin<', builtin)
    assert admin_id
    refused = client.post(f"/admin/roles/{admin_id.group(1)}/delete", data={"csrf": csrf})
    assert refused.status_code == 409 and "cannot be deleted" in refused.text


def test_sign_out_ends_the_session(client: TestClient, db: BoundDatabase, tenant_a: Tenant) -> None:
    user = signed_in(client, db, tenant_a, ["grader"])
    csrf = csrf_of(client.get("/account").text)
    r = client.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?notice=signed-out"
    assert f'{COOKIE}=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
    with db.unit_of_work(tenant_a.id) as uow:
        sessions = uow.scalars(select(AuthSession).where(AuthSession.user_id == user.id))
        assert sessions and all(s.revoked_at is not None for s in sessions)
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_sign_in_needs_the_forms_token_bound_to_its_cookie(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    """Login CSRF: another site's form (no token, or a token of another
    browser's cookie) signs nobody in, and is not counted as an attempt."""
    user = make_user(db, tenant_a.id, ["tenant_admin"])
    creds = {"tenant": tenant_a.slug, "email": user.email, "password": PASSWORD}
    theirs = TestClient(app, follow_redirects=False)
    token = csrf_of(theirs.get("/signin").text)
    victim = TestClient(app, follow_redirects=False)
    for data in (creds, creds | {"csrf": token}, creds | {"csrf": ""}):
        r = victim.post("/signin", data=data)
        assert r.status_code == 403 and COOKIE not in r.cookies, data
        assert "did not come from this site" in r.text
    assert [a for a in actions(db, tenant_a) if a.startswith("auth.sign_in")] == []
    assert page_sign_in(victim, tenant_a.slug, user.email).status_code == 303
