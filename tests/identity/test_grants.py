"""No one grants more than they hold, generated over roles: every ordered pair
of roles (the built-in ones and custom ones composed from permission subsets)
x every way of granting or managing, allowed exactly when the actor holds
every permission of the target. Then the same rule over HTTP (API and pages),
the three escalations that worked before it, and the record of each refusal."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Refused
from invigil.identity import service
from invigil.identity.models import AuthSession, Role, User
from invigil.security.permissions import BUILTIN_ROLES, Permission
from invigil.security.secretbox import SecretBox
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user
from tests.test_pages_matrix import web_client

ALL = sorted(p.value for p in Permission)
P = Permission


def _custom_sets() -> dict[str, frozenset[str]]:
    """Custom roles: the administrative permissions one by one (the holes this
    rule closes were each one of them alone), nothing, everything but one,
    and subsets drawn by a seeded generator (the same on every run)."""
    sets = {
        "only_user_manage": frozenset({P.USER_MANAGE.value}),
        "only_role_manage": frozenset({P.ROLE_MANAGE.value}),
        "only_tenant_manage": frozenset({P.TENANT_MANAGE.value}),
        "user_and_role_manage": frozenset({P.USER_MANAGE.value, P.ROLE_MANAGE.value}),
        "nothing": frozenset(),
        "all_but_billing": frozenset(ALL) - {P.BILLING_MANAGE.value},
    }
    rng = random.Random(17)
    for n in range(6):
        sets[f"drawn_{n}"] = frozenset(rng.sample(ALL, rng.randint(1, len(ALL) - 1)))
    return sets


CUSTOM = _custom_sets()
ROLES: dict[str, frozenset[str]] = {
    **{name: frozenset(p.value for p in held) for name, held in BUILTIN_ROLES.items()},
    **CUSTOM,
}


class Undo(Exception):
    """Raised after an allowed change, so every attempt starts from the same rows."""


def allowed(
    db: BoundDatabase, tenant: Tenant, actor: User, act: Callable[[UnitOfWork], object]
) -> bool:
    """Whether ``actor`` gets past the rule; the change is undone either way."""
    try:
        with db.unit_of_work(tenant.id, Actor("user", str(actor.id))) as uow:
            act(uow)
            raise Undo
    except Undo:
        return True
    except Refused:
        return False


@dataclass
class Cast:
    """One user per role (actors), another per role (targets, with an
    authenticator to reset), one custom role per role to widen from nothing."""

    actors: dict[str, User]
    targets: dict[str, User]
    blank: dict[str, Role]


@pytest.fixture
def cast(db: BoundDatabase, tenant_a: Tenant) -> Cast:
    with db.unit_of_work(tenant_a.id) as uow:
        for name, held in CUSTOM.items():
            service.create_role(uow, name=name, description="", permissions=sorted(held))
        service.create_role(uow, name="baseline", description="", permissions=[])
        blank = {
            name: service.create_role(uow, name=f"blank_{n}", description="", permissions=[])
            for n, name in enumerate(ROLES)
        }
    actors = {name: make_user(db, tenant_a.id, [name], password=None) for name in ROLES}
    targets = {name: make_user(db, tenant_a.id, [name], password=None) for name in ROLES}
    with db.unit_of_work(tenant_a.id) as uow:
        for target in targets.values():
            row = uow.get(User, target.id)
            row.totp_secret, row.totp_enabled_at = b"sealed seed", datetime.now(UTC)
    return Cast(actors, targets, blank)


def _actions(cast: Cast, target: str) -> dict[str, Callable[[UnitOfWork], object]]:
    user = cast.targets[target].id
    newcomer = cast.actors["nothing"].id  # holds no permission: anyone may manage them
    perms = sorted(ROLES[target])
    return {
        "assign": lambda uow: service.set_roles(uow, newcomer, ["nothing", target]),
        "reset password": lambda uow: service.reset_password(uow, user),
        "reset authenticator": lambda uow: service.reset_mfa(uow, _box(), user),
        "deactivate": lambda uow: service.deactivate_user(uow, user),
        "create role": lambda uow: service.create_role(
            uow, name=f"made_{uuid.uuid4().hex[:8]}", description="", permissions=perms
        ),
        "widen role": lambda uow: service.update_role(
            uow, cast.blank[target].id, description=None, permissions=perms
        ),
    }


def _box() -> SecretBox:
    """Removing someone's authenticator never opens the box."""
    return SecretBox(Path("unused-key"))


@pytest.mark.slow
def test_every_pair_of_roles_is_allowed_exactly_when_the_actor_holds_the_target(
    db: BoundDatabase, tenant_a: Tenant, cast: Cast
) -> None:
    wrong = []
    checked = 0
    for actor, held in ROLES.items():
        for target, needed in ROLES.items():
            expected = needed <= held
            for action, act in _actions(cast, target).items():
                if action == "assign" and actor == "nothing":
                    continue  # the newcomer is this actor: their own roles (tested below)
                got = allowed(db, tenant_a, cast.actors[actor], act)
                checked += 1
                if got != expected:
                    wrong.append(f"{actor} -> {action} {target}: {'allowed' if got else 'refused'}")
    assert wrong == []
    assert checked >= len(ROLES) ** 2 * 5  # the walk covered the matrix


def test_the_matrix_has_both_outcomes_for_every_action() -> None:
    """A matrix where every pair is refused (or allowed) would prove nothing."""
    pairs = [(a, t) for a in ROLES for t in ROLES]
    assert any(ROLES[t] <= ROLES[a] for a, t in pairs if a != t)
    assert any(not ROLES[t] <= ROLES[a] for a, t in pairs)
    assert "tenant_admin" in ROLES and ROLES["tenant_admin"] == frozenset(ALL)


permission_sets = st.frozensets(st.sampled_from(ALL))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(held=permission_sets, needed=permission_sets, action=st.integers(0, 5))
def test_any_composed_roles_follow_the_rule(
    db: BoundDatabase, tenant_a: Tenant, held: frozenset[str], needed: frozenset[str], action: int
) -> None:
    tag = uuid.uuid4().hex[:8]
    with db.unit_of_work(tenant_a.id) as uow:
        service.create_role(uow, name=f"a_{tag}", description="", permissions=sorted(held))
        service.create_role(uow, name=f"t_{tag}", description="", permissions=sorted(needed))
        blank = service.create_role(uow, name=f"w_{tag}", description="", permissions=[])
        service.create_role(uow, name=f"z_{tag}", description="", permissions=[])
    actor = make_user(db, tenant_a.id, [f"a_{tag}"], password=None)
    target = make_user(db, tenant_a.id, [f"t_{tag}"], password=None)
    newcomer = make_user(db, tenant_a.id, [f"z_{tag}"], password=None)
    with db.unit_of_work(tenant_a.id) as uow:
        row = uow.get(User, target.id)
        row.totp_secret, row.totp_enabled_at = b"sealed seed", datetime.now(UTC)
    acts: list[Callable[[UnitOfWork], object]] = [
        lambda uow: service.set_roles(uow, newcomer.id, [f"z_{tag}", f"t_{tag}"]),
        lambda uow: service.reset_password(uow, target.id),
        lambda uow: service.reset_mfa(uow, _box(), target.id),
        lambda uow: service.deactivate_user(uow, target.id),
        lambda uow: service.create_role(
            uow, name=f"c_{tag}", description="", permissions=sorted(needed)
        ),
        lambda uow: service.update_role(
            uow, blank.id, description=None, permissions=sorted(needed)
        ),
    ]
    assert allowed(db, tenant_a, actor, acts[action]) == (needed <= held)


def test_nobody_changes_their_own_roles_or_manages_their_own_account(
    db: BoundDatabase, tenant_a: Tenant, cast: Cast
) -> None:
    for name in ("tenant_admin", "only_user_manage", "nothing"):
        me = cast.actors[name]
        acts: list[Callable[[UnitOfWork], object]] = [
            lambda uow, me=me, name=name: service.set_roles(uow, me.id, [name]),  # no change
            lambda uow, me=me, name=name: service.set_roles(uow, me.id, [name, "nothing"]),
            lambda uow, me=me: service.reset_password(uow, me.id),
            lambda uow, me=me: service.reset_mfa(uow, _box(), me.id),
            lambda uow, me=me: service.deactivate_user(uow, me.id),
        ]
        for act in acts:
            assert not allowed(db, tenant_a, me, act), name


def test_narrowing_a_role_needs_only_role_manage_widening_needs_the_permissions(
    db: BoundDatabase, tenant_a: Tenant, cast: Cast
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        wide = service.create_role(uow, name="wide", description="", permissions=ALL)
        mine = service.role_by_name(uow, "only_role_manage")
    keeper = cast.actors["only_role_manage"]

    def narrow(uow: UnitOfWork) -> object:
        return service.update_role(uow, wide.id, description=None, permissions=["exam:view"])

    def widen_own(uow: UnitOfWork) -> object:  # the role the actor holds
        more = [P.ROLE_MANAGE.value, P.USER_MANAGE.value]
        return service.update_role(uow, mine.id, description=None, permissions=more)

    def describe(uow: UnitOfWork) -> object:
        return service.update_role(uow, mine.id, description="renamed", permissions=None)

    assert allowed(db, tenant_a, keeper, narrow)
    assert not allowed(db, tenant_a, keeper, widen_own)
    assert allowed(db, tenant_a, keeper, describe)


def test_the_operator_and_the_platform_stand_outside_the_tenants_roles(
    db: BoundDatabase, tenant_a: Tenant, cast: Cast
) -> None:
    """`invigil user create --role tenant_admin` and the demo data go on working;
    a caller who is no staff user holds nothing."""
    target = cast.targets["grader"].id
    for actor, expected in (
        (Actor.operator(), True),
        (Actor.system(), True),
        (Actor("anonymous", "web"), False),
        (Actor("candidate", str(uuid.uuid4())), False),
    ):
        try:
            with db.unit_of_work(tenant_a.id, actor) as uow:
                service.set_roles(uow, target, ["tenant_admin"])
                raise Undo
        except Undo:
            got = True
        except Refused:
            got = False
        assert got == expected, actor


# -- over HTTP: the API ----------------------------------------------------------


def denials(db: BoundDatabase, tenant: Tenant) -> list[AuditEvent]:
    with db.unit_of_work(tenant.id) as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "access.denied")
                .order_by(AuditEvent.seq)
            )
        )


def custom_user(db: BoundDatabase, tenant: Tenant, permissions: list[str]) -> User:
    name = f"c_{uuid.uuid4().hex[:8]}"
    with db.unit_of_work(tenant.id) as uow:
        service.create_role(uow, name=name, description="", permissions=permissions)
    return make_user(db, tenant.id, [name])


def test_escalation_1_a_user_manager_cannot_make_themselves_tenant_admin(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    me = custom_user(db, tenant_a, [P.USER_MANAGE.value])
    h = bearer(app, db, me)
    r = client.put(f"/api/v1/users/{me.id}/roles", headers=h, json={"roles": ["tenant_admin"]})
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "your own roles" in r.json()["detail"]
    # Nor through someone else's account they could then use.
    other = custom_user(db, tenant_a, [])  # holds nothing: theirs to manage
    r = client.put(f"/api/v1/users/{other.id}/roles", headers=h, json={"roles": ["tenant_admin"]})
    assert r.status_code == 403
    body = r.json()
    assert "'tenant_admin'" in body["detail"] and "role:manage" in body["detail"]
    assert P.USER_MANAGE.value not in body["missing"] and P.TENANT_MANAGE.value in body["missing"]
    with db.unit_of_work(tenant_a.id) as uow:
        theirs = service.roles_of(uow, other.id)
        assert len(theirs) == 1 and theirs[0].name.startswith("c_")
        assert len(service.roles_of(uow, me.id)) == 1
    kept = denials(db, tenant_a)[-2:]
    assert [(e.subject_type, e.subject_id) for e in kept] == [
        ("user", str(me.id)),
        ("user", str(other.id)),
    ]
    assert kept[0].actor_id == str(me.id) and kept[0].payload["reason"] == "own_account"
    assert (
        kept[1].payload["attempted"] == "role.grant"
        and "tenant:manage" in kept[1].payload["missing"]
    )


def test_escalation_2_a_user_manager_cannot_take_over_an_admin(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    me = custom_user(db, tenant_a, [P.USER_MANAGE.value])
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    admin_h = bearer(app, db, admin)
    h = bearer(app, db, me)
    for path in ("reset-password", "mfa/reset", "deactivate"):
        r = client.post(f"/api/v1/users/{admin.id}/{path}", headers=h)
        assert r.status_code == 403, (path, r.text)
        assert admin.email in r.json()["detail"] and "role:manage" in r.json()["detail"]
        assert "link" not in r.json()
    with db.unit_of_work(tenant_a.id) as uow:
        row = uow.get(User, admin.id)
        assert row.password_hash is not None and row.status == "active"
        sessions = uow.scalars(select(AuthSession).where(AuthSession.user_id == admin.id))
        assert sessions and all(s.revoked_at is None for s in sessions)
    assert client.get("/api/v1/me", headers=admin_h).status_code == 200
    assert [e.payload["attempted"] for e in denials(db, tenant_a)[-3:]] == [
        "user.password_reset",
        "user.mfa_reset",
        "user.deactivate",
    ]


def test_escalation_3_a_role_manager_cannot_widen_their_own_role(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    me = custom_user(db, tenant_a, [P.ROLE_MANAGE.value])
    h = bearer(app, db, me)
    with db.unit_of_work(tenant_a.id) as uow:
        mine = service.roles_of(uow, me.id)[0]
    r = client.patch(f"/api/v1/roles/{mine.id}", headers=h, json={"permissions": ALL})
    assert r.status_code == 403, r.text
    assert "user:manage" in r.json()["detail"] and "role:manage" not in r.json()["missing"]
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.get(Role, mine.id).permissions == [P.ROLE_MANAGE.value]
    # Nor by making a new role with more, nor granting a built-in one.
    r = client.post(
        "/api/v1/roles", headers=h, json={"name": f"x_{uuid.uuid4().hex[:6]}", "permissions": ALL}
    )
    assert r.status_code == 403
    assert [e.payload["attempted"] for e in denials(db, tenant_a)[-2:]] == [
        "role.update",
        "role.create",
    ]


@pytest.mark.parametrize(
    "actor",
    ["tenant_admin", "only_user_manage", "user_and_role_manage", "all_but_billing", "drawn_0"],
)
def test_the_api_follows_the_rule_for_every_built_in_target(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, actor: str
) -> None:
    held = ROLES[actor] | {P.USER_MANAGE.value, P.ROLE_MANAGE.value}
    me = custom_user(db, tenant_a, sorted(held))
    h = bearer(app, db, me)
    make_user(db, tenant_a.id, ["tenant_admin"])  # so no target is the last administrator
    with db.unit_of_work(tenant_a.id) as uow:
        service.create_role(uow, name="empty", description="", permissions=[])
    before = len(denials(db, tenant_a))
    wrong: list[str] = []
    refused = 0
    for target in sorted(BUILTIN_ROLES):
        expected = ROLES[target] <= held
        user = make_user(db, tenant_a.id, [target], password=None)
        with db.unit_of_work(tenant_a.id) as uow:
            row = uow.get(User, user.id)
            row.totp_secret, row.totp_enabled_at = b"sealed seed", datetime.now(UTC)
        newcomer = make_user(db, tenant_a.id, ["empty"], password=None)
        made = {"name": f"m_{uuid.uuid4().hex[:8]}", "permissions": sorted(ROLES[target])}
        calls = [
            ("PUT", f"/api/v1/users/{newcomer.id}/roles", {"roles": ["empty", target]}),
            ("POST", f"/api/v1/users/{user.id}/reset-password", None),
            ("POST", f"/api/v1/users/{user.id}/mfa/reset", None),
            ("POST", f"/api/v1/users/{user.id}/deactivate", None),
            ("POST", "/api/v1/roles", made),
        ]
        for method, path, body in calls:
            r = client.request(method, path, headers=h, json=body)
            ok = r.status_code in (200, 201)
            if ok != expected or (not ok and r.status_code != 403):
                wrong.append(f"{method} {path} for {target}: {r.status_code}")
            if r.status_code == 403:
                refused += 1
                assert set(r.json()["missing"]) == ROLES[target] - held
    assert wrong == []
    assert len(denials(db, tenant_a)) - before == refused


def test_a_route_refused_for_want_of_its_permission_is_on_the_record_too(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    grader = make_user(db, tenant_a.id, ["grader"])
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    r = client.post(f"/api/v1/users/{admin.id}/reset-password", headers=bearer(app, db, grader))
    assert r.status_code == 403 and r.json()["missing"] == ["user:manage"]
    kept = denials(db, tenant_a)[-1]
    assert kept.actor_id == str(grader.id) and kept.payload["missing"] == ["user:manage"]
    assert kept.subject_id == "POST /api/v1/users/{user_id}/reset-password"


# -- over HTTP: the staff pages ---------------------------------------------------


def test_the_pages_refuse_the_same_escalations_readably(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        desk = [P.USER_MANAGE.value, P.USER_VIEW.value]
        service.create_role(uow, name="desk", description="", permissions=desk)
        service.create_role(uow, name="empty", description="", permissions=[])
    client, csrf = web_client(app, db, tenant_a.id, ["desk"])
    admin = make_user(db, tenant_a.id, ["tenant_admin"])
    newcomer = make_user(db, tenant_a.id, ["empty"])
    with db.unit_of_work(tenant_a.id) as uow:
        me = next(
            u for u in service.list_users(uow) if service.roles_of(uow, u.id)[0].name == "desk"
        )
    before = len(denials(db, tenant_a))

    page = client.get(f"/admin/users/{admin.id}")
    assert page.status_code == 200 and "Reset password" not in page.text
    assert "they hold permissions your roles do not" in page.text
    reset = client.post(f"/admin/users/{admin.id}/reset-password", data={"csrf": csrf})
    assert reset.status_code == 403 and 'role="alert"' in reset.text
    assert f"You cannot reset the password of {admin.email}" in reset.text
    assert "token=" not in reset.text
    grant = client.post(
        f"/admin/users/{newcomer.id}/roles", data={"csrf": csrf, "roles": ["tenant_admin"]}
    )
    assert grant.status_code == 403 and "You cannot grant role &#39;tenant_admin&#39;" in grant.text
    own = client.post(f"/admin/users/{me.id}/roles", data={"csrf": csrf, "roles": ["tenant_admin"]})
    assert own.status_code == 403 and "your own account" in own.text
    assert len(denials(db, tenant_a)) - before == 3  # kept although each change rolled back
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.get(User, admin.id).password_hash is not None
        assert [r.name for r in service.roles_of(uow, newcomer.id)] == ["empty"]
        assert [r.name for r in service.roles_of(uow, me.id)] == ["desk"]


def test_a_role_manager_page_cannot_create_or_widen_beyond_what_they_hold(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        service.create_role(
            uow, name="keeper", description="", permissions=[P.ROLE_MANAGE.value, P.ROLE_VIEW.value]
        )
        mine = service.role_by_name(uow, "keeper")
    client, csrf = web_client(app, db, tenant_a.id, ["keeper"])
    made = client.post(
        "/admin/roles", data={"csrf": csrf, "name": "boss", "permissions": ["tenant:manage"]}
    )
    assert made.status_code == 403 and "You cannot create role" in made.text
    widened = client.post(
        f"/admin/roles/{mine.id}",
        data={
            "csrf": csrf,
            "description": "",
            "permissions": ["role:manage", "role:view", "user:manage"],
        },
    )
    assert widened.status_code == 403 and "user:manage" in widened.text
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.get(Role, mine.id).permissions == ["role:manage", "role:view"]
        assert uow.scalar(select(Role).where(Role.name == "boss")) is None
    assert [e.payload["attempted"] for e in denials(db, tenant_a)[-2:]] == [
        "role.create",
        "role.update",
    ]
