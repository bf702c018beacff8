"""Sign-in, refresh, logout, throttling, MFA and user/role management over HTTP."""

from __future__ import annotations

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.identity import service
from invigil.security.permissions import Permission
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import PASSWORD, BoundDatabase, bearer, make_user, sign_in


def actions(db: BoundDatabase, tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        return list(uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_gives_short_tokens_and_me_works(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    r = sign_in(client, tenant_a.slug, user.email.upper())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 900
    me = client.get("/api/v1/me", headers=auth(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == user.email and me.json()["roles"] == ["grader"]
    assert "grade:submit" in me.json()["permissions"]
    assert "auth.signed_in" in actions(db, tenant_a)


def test_failures_look_the_same_whether_or_not_the_account_exists(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    wrong_password = sign_in(client, tenant_a.slug, user.email, "not the right one!")
    no_such_email = sign_in(client, tenant_a.slug, "nobody@staff.test", "whatever it is 1")
    no_such_tenant = sign_in(client, "no-such-tenant", user.email)
    for r in (wrong_password, no_such_email, no_such_tenant):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
    bodies = {r.text for r in (wrong_password, no_such_email, no_such_tenant)}
    assert len(bodies) == 1
    assert "auth.sign_in_failed" in actions(db, tenant_a)


def test_an_account_locks_after_repeated_failures(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    for _ in range(settings.sign_in_max_failures_per_account):
        assert sign_in(client, tenant_a.slug, user.email, "wrong password 123").status_code == 401
    locked = sign_in(client, tenant_a.slug, user.email)  # the right password, too late
    assert locked.status_code == 401
    assert "locked" in locked.json()["detail"]
    assert "auth.locked_out" in actions(db, tenant_a)


def test_an_address_is_throttled(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    for i in range(settings.sign_in_max_failures_per_address):
        sign_in(client, tenant_a.slug, f"spray{i}@staff.test", "wrong password 123")
    r = sign_in(client, tenant_a.slug, "spray-last@staff.test", "wrong password 123")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "auth.throttled" in actions(db, tenant_a)


def test_refresh_rotates_and_reuse_revokes_the_family(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    first = sign_in(client, tenant_a.slug, user.email).json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and "already used" in reuse.json()["detail"]
    # the thief's reuse killed the legitimate branch too
    later = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert later.status_code == 401
    assert client.get("/api/v1/me", headers=auth(second.json()["access_token"])).status_code == 401
    assert "auth.token_family_revoked" in actions(db, tenant_a)


def test_logout_ends_the_session_at_once(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    tokens = sign_in(client, tenant_a.slug, user.email).json()
    assert (
        client.post(
            "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 204
    )
    assert client.get("/api/v1/me", headers=auth(tokens["access_token"])).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 401
    )


def test_garbage_refresh_tokens_are_refused(client: TestClient, tenant_a: Tenant) -> None:
    for junk in (
        "x" * 20,
        f"rt.{tenant_a.id.hex}.{'A' * 43}",
        "rt.nothex.zzzzzzzzzzzzzzzzzzzzzzzzz",
    ):
        assert client.post("/api/v1/auth/refresh", json={"refresh_token": junk}).status_code == 401


def test_invite_then_accept_then_sign_in(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    r = client.post(
        "/api/v1/users",
        headers=bearer(app, db, admin),
        json={
            "email": "new.author@staff.test",
            "display_name": "New Author",
            "roles": ["exam_author"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["user"]["status"] == "invited"
    secret = r.json()["link"].split("token=")[1]
    assert (
        sign_in(client, tenant_a.slug, "new.author@staff.test", "anything at all").status_code
        == 401
    )
    weak = client.post("/api/v1/auth/password", json={"token": secret, "password": "password1234"})
    assert weak.status_code == 422 and "too common" in weak.json()["detail"]
    ok = client.post("/api/v1/auth/password", json={"token": secret, "password": PASSWORD})
    assert ok.status_code == 204
    again = client.post("/api/v1/auth/password", json={"token": secret, "password": PASSWORD})
    assert again.status_code == 422 and "not valid" in again.json()["detail"]
    assert sign_in(client, tenant_a.slug, "new.author@staff.test").status_code == 200
    assert {"user.created", "user.invite_link_issued", "user.password_set"} <= set(
        actions(db, tenant_a)
    )


def test_deactivation_and_reset_bite_immediately(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    staff = make_user(db, tenant_a.id, ["grader"])
    staff_tokens = sign_in(client, tenant_a.slug, staff.email).json()
    h = bearer(app, db, admin)
    r = client.post(f"/api/v1/users/{staff.id}/reset-password", headers=h)
    assert r.status_code == 200 and "token=" in r.json()["link"]
    assert client.get("/api/v1/me", headers=auth(staff_tokens["access_token"])).status_code == 401
    assert sign_in(client, tenant_a.slug, staff.email).status_code == 401  # old password gone
    assert (
        client.post(f"/api/v1/users/{staff.id}/deactivate", headers=h).json()["status"]
        == "deactivated"
    )
    assert (
        client.post(f"/api/v1/users/{staff.id}/reactivate", headers=h).json()["status"] == "invited"
    )


def test_the_last_admin_cannot_lock_the_tenant_out(
    client: TestClient, app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    from tests.conftest import make_tenant

    tenant = make_tenant(db, settings)  # committed via the bound db's owner path
    admin = make_user(db, tenant.id, ["tenant_admin"])
    h = bearer(app, db, admin)
    r = client.post(f"/api/v1/users/{admin.id}/deactivate", headers=h)
    assert r.status_code == 403 and "your own account" in r.json()["detail"]
    # Someone holding every permission through a custom role is not tenant_admin:
    # they may manage the admin, but not remove the tenant's last one.
    with db.unit_of_work(tenant.id) as uow:
        service.create_role(
            uow, name="everything", description="", permissions=[p.value for p in Permission]
        )
    h = bearer(app, db, make_user(db, tenant.id, ["everything"]))
    r = client.post(f"/api/v1/users/{admin.id}/deactivate", headers=h)
    assert r.status_code == 409 and "last active administrator" in r.json()["detail"]
    r = client.put(f"/api/v1/users/{admin.id}/roles", headers=h, json={"roles": ["grader"]})
    assert r.status_code == 409


def test_a_permission_change_takes_effect_at_the_next_token(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    admin_h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    role = client.post(
        "/api/v1/roles",
        headers=admin_h,
        json={"name": "user_reader", "description": "reads users", "permissions": ["user:view"]},
    ).json()
    staff = make_user(db, tenant_a.id, ["grader"])
    assert (
        client.put(
            f"/api/v1/users/{staff.id}/roles",
            headers=admin_h,
            json={"roles": ["grader", "user_reader"]},
        ).status_code
        == 200
    )
    tokens = sign_in(client, tenant_a.slug, staff.email).json()
    assert client.get("/api/v1/users", headers=auth(tokens["access_token"])).status_code == 200
    assert client.get("/api/v1/roles", headers=auth(tokens["access_token"])).status_code == 403
    r = client.patch(
        f"/api/v1/roles/{role['id']}",
        headers=admin_h,
        json={"permissions": ["user:view", "role:view"]},
    )
    assert r.status_code == 200 and r.json()["permissions"] == ["role:view", "user:view"]
    # the old token keeps its old permissions; the next one has the new set
    assert client.get("/api/v1/roles", headers=auth(tokens["access_token"])).status_code == 403
    fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (
        client.get("/api/v1/roles", headers=auth(fresh.json()["access_token"])).status_code == 200
    )
    assert {"role.created", "role.granted", "role.updated"} <= set(actions(db, tenant_a))


def test_built_in_roles_are_fixed_and_custom_ones_validated(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    roles = client.get("/api/v1/roles", headers=h).json()["items"]
    builtin = {r["name"]: r for r in roles if r["builtin"]}
    assert {
        "tenant_admin",
        "exam_author",
        "question_manager",
        "proctor_reviewer",
        "grader",
        "results_viewer",
        "shortlister",
        "certification_manager",
        "billing_admin",
        "auditor",
    } <= set(builtin)
    grader = builtin["grader"]["id"]
    assert (
        client.patch(
            f"/api/v1/roles/{grader}", headers=h, json={"permissions": ["user:manage"]}
        ).status_code
        == 409
    )
    assert client.delete(f"/api/v1/roles/{grader}", headers=h).status_code == 409
    bad = client.post("/api/v1/roles", headers=h, json={"name": "x1", "permissions": ["exam:fly"]})
    assert bad.status_code == 422 and "exam:fly" in bad.json()["detail"]


def test_totp_enrolment_and_sign_in_with_a_code(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    h = auth(sign_in(client, tenant_a.slug, user.email).json()["access_token"])
    setup = client.post("/api/v1/me/totp", headers=h).json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(setup["secret"])
    assert client.post(
        "/api/v1/me/totp/confirm", headers=h, json={"code": "000000"}
    ).status_code in (422,)
    assert (
        client.post("/api/v1/me/totp/confirm", headers=h, json={"code": totp.now()}).status_code
        == 204
    )
    without = sign_in(client, tenant_a.slug, user.email)
    assert without.status_code == 401 and without.json()["mfa_required"] is True
    assert sign_in(client, tenant_a.slug, user.email, otp="123456").status_code == 401
    assert sign_in(client, tenant_a.slug, user.email, otp=totp.now()).status_code == 200
    assert "user.mfa_enabled" in actions(db, tenant_a)


def test_tenant_policy_requires_mfa_for_admins(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    grader = make_user(db, tenant_a.id, ["grader"])
    h = bearer(app, db, admin)
    assert (
        client.put(
            "/api/v1/tenant/security", headers=h, json={"require_mfa_for_admins": True}
        ).status_code
        == 200
    )
    limited = sign_in(client, tenant_a.slug, admin.email).json()
    assert limited["permissions"] == ["account:self"]
    denied = client.get("/api/v1/users", headers=auth(limited["access_token"]))
    assert denied.status_code == 403 and "second factor" in denied.json()["detail"]
    assert sign_in(client, tenant_a.slug, grader.email).json()["permissions"] != ["account:self"]
    lh = auth(limited["access_token"])
    totp = pyotp.TOTP(client.post("/api/v1/me/totp", headers=lh).json()["secret"])
    assert (
        client.post("/api/v1/me/totp/confirm", headers=lh, json={"code": totp.now()}).status_code
        == 204
    )
    full = sign_in(client, tenant_a.slug, admin.email, otp=totp.now()).json()
    assert "user:manage" in full["permissions"]
    assert "tenant.mfa_policy_changed" in actions(db, tenant_a)


def test_change_own_password(client: TestClient, db: BoundDatabase, tenant_a: Tenant) -> None:
    user = make_user(db, tenant_a.id, ["grader"])
    h = auth(sign_in(client, tenant_a.slug, user.email).json()["access_token"])
    wrong = client.post(
        "/api/v1/me/password",
        headers=h,
        json={"current_password": "nope nope nope", "new_password": "x" * 20},
    )
    assert wrong.status_code == 422
    ok = client.post(
        "/api/v1/me/password",
        headers=h,
        json={"current_password": PASSWORD, "new_password": "meadow-copper-kite-77"},
    )
    assert ok.status_code == 204
    assert sign_in(client, tenant_a.slug, user.email, "meadow-copper-kite-77").status_code == 200


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGEgbGlzdA"])
def test_lists_paginate_and_reject_bad_cursors(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant, cursor: str
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    for _ in range(3):
        make_user(db, tenant_a.id, ["grader"])
    first = client.get("/api/v1/users?limit=2", headers=h).json()
    assert len(first["items"]) == 2 and first["next"]
    rest = client.get(f"/api/v1/users?limit=200&cursor={first['next']}", headers=h).json()
    seen = [u["id"] for u in first["items"]] + [u["id"] for u in rest["items"]]
    assert len(seen) == len(set(seen)) >= 4 and rest["next"] is None
    assert client.get(f"/api/v1/users?cursor={cursor}", headers=h).status_code == 422
