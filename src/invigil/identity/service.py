"""Staff accounts and roles: create, invite, deactivate, reset, grant, revoke.

No one grants more than they hold: each change checks the actor against
``invigil.identity.grants`` before it is made. Every change is audited in
the same transaction, naming the user and the role by id, never by e-mail
or by a custom role's name, which is free text (the log outlives both; the
audit page shows the live ones, docs/adr/0062). Permission changes take
effect at the user's next token; sessions are revoked where a change must
bite at once (deactivation, password reset).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from invigil import audit, i18n
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.identity import grants, mfa
from invigil.identity.grants import role_permissions
from invigil.identity.models import AuthSession, Role, User, UserRole, UserToken
from invigil.security import permissions as perms
from invigil.security.passwords import check_policy, hash_password
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import digest, new_secret

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
LINK_VALIDITY = {"invite": timedelta(days=7), "reset": timedelta(hours=2)}


def normalise_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 320:
        raise Invalid(f"{email!r} is not an email address")
    return email


# -- roles -------------------------------------------------------------------


def ensure_builtin_roles(uow: UnitOfWork) -> None:
    existing = set(uow.scalars(select(Role.name).where(Role.builtin)))
    for name in perms.BUILTIN_ROLES:
        if name not in existing:
            uow.add(
                Role(
                    tenant_id=uow.tenant,
                    name=name,
                    builtin=True,
                    description=name.replace("_", " ").capitalize(),
                )
            )
    uow.flush()


def list_roles(uow: UnitOfWork) -> list[Role]:
    return uow.scalars(select(Role).order_by(Role.builtin.desc(), Role.name))


def role_by_name(uow: UnitOfWork, name: str) -> Role:
    role = uow.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise Invalid(f"unknown role {name!r}")
    return role


def create_role(uow: UnitOfWork, *, name: str, description: str, permissions: list[str]) -> Role:
    if not _ROLE_NAME.match(name):
        raise Invalid(
            "a role name needs 2-64 lowercase letters, digits or underscores, "
            "starting with a letter"
        )
    chosen = sorted(p.value for p in perms.parse(permissions))
    grants.require_permissions(uow, chosen, role=name, subject=("role", "new"), widen=False)
    if uow.scalar(select(Role).where(Role.name == name)) is not None:
        raise Conflict(f"a role named {name!r} already exists")
    role = Role(
        tenant_id=uow.tenant,
        name=name,
        description=description.strip(),
        builtin=False,
        permissions=chosen,
    )
    uow.add(role)
    uow.flush()
    audit.record(uow, "role.created", role, {"permissions": chosen})
    return role


def update_role(
    uow: UnitOfWork, role_id: uuid.UUID, *, description: str | None, permissions: list[str] | None
) -> Role:
    role = uow.get(Role, role_id)
    if role.builtin:
        raise Conflict(f"built-in role {role.name!r} cannot be changed; create a custom role")
    before = list(role.permissions)
    if permissions is not None:
        after = sorted(p.value for p in perms.parse(permissions))
        added = set(after) - set(before)  # narrowing needs role:manage only; widening more
        grants.require_permissions(
            uow, added, role=role.name, subject=("role", str(role.id)), widen=True
        )
        role.permissions = after
    if description is not None:
        role.description = description.strip()
    uow.flush()
    audit.record(
        uow,
        "role.updated",
        role,
        {
            "before": before,
            "after": role.permissions,
            "added": sorted(set(role.permissions) - set(before)),
            "removed": sorted(set(before) - set(role.permissions)),
        },
    )
    return role


def delete_role(uow: UnitOfWork, role_id: uuid.UUID) -> None:
    role = uow.get(Role, role_id)
    if role.builtin:
        raise Conflict(f"built-in role {role.name!r} cannot be deleted")
    holders = uow.scalar(
        select(func.count()).select_from(UserRole).where(UserRole.role_id == role.id)
    )
    if holders:
        raise Conflict(f"role {role.name!r} is held by {holders} user(s); revoke it first")
    audit.record(uow, "role.deleted", role, {"permissions": list(role.permissions)})
    uow.session.delete(role)
    uow.flush()


# -- users -------------------------------------------------------------------


def find_by_email(uow: UnitOfWork, email: str) -> User | None:
    return uow.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def list_users(uow: UnitOfWork) -> list[User]:
    return uow.scalars(select(User).order_by(func.lower(User.email)))


def holders_of(role_name: str) -> Select[uuid.UUID]:
    """The ids of the users holding the role named ``role_name`` (a subquery)."""
    return (
        select(UserRole.user_id)
        .join(Role, (UserRole.tenant_id == Role.tenant_id) & (UserRole.role_id == Role.id))
        .where(Role.name == role_name)
    )


def roles_of(uow: UnitOfWork, user_id: uuid.UUID) -> list[Role]:
    return uow.scalars(
        select(Role)
        .join(UserRole, (UserRole.tenant_id == Role.tenant_id) & (UserRole.role_id == Role.id))
        .where(UserRole.user_id == user_id)
        .order_by(Role.name)
    )


def permissions_of(roles: list[Role]) -> frozenset[str]:
    found: set[str] = set()
    for role in roles:
        found |= role_permissions(role)
    return frozenset(found)


def _add_user(
    uow: UnitOfWork,
    *,
    email: str,
    display_name: str,
    status: str,
    password: str | None,
    roles: list[str],
) -> User:
    email = normalise_email(email)
    if not roles:
        raise Invalid("a user needs at least one role")
    chosen = [role_by_name(uow, name) for name in dict.fromkeys(roles)]
    grants.require_roles(uow, chosen, subject=None)  # no user yet: the role is the subject
    if find_by_email(uow, email) is not None:
        raise Conflict(f"a user with email {email} already exists in this tenant")
    if password is not None:
        check_policy(password, context=(email, display_name))
    user = User(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        email=email,
        status=status,
        display_name=display_name.strip(),
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=datetime.now(UTC) if password is not None else None,
    )
    uow.add(user)
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError as exc:  # a concurrent insert won the race
        raise Conflict(f"a user with email {email} already exists in this tenant") from exc
    for role in chosen:
        uow.add(UserRole(tenant_id=uow.tenant, user_id=user.id, role_id=role.id))
    uow.flush()
    audit.record(
        uow,
        "user.created",
        user,
        {"status": status, "role_ids": [r.id for r in chosen]},
    )
    return user


def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    roles: list[str],
    password: str | None = None,
    display_name: str = "",
) -> User:
    """An active account (operator tooling, demo data)."""
    return _add_user(
        uow, email=email, display_name=display_name, status="active", password=password, roles=roles
    )


def invite_user(
    uow: UnitOfWork, *, email: str, roles: list[str], display_name: str = ""
) -> tuple[User, str]:
    """An invited account and its one-time link secret (valid 7 days)."""
    user = _add_user(
        uow, email=email, display_name=display_name, status="invited", password=None, roles=roles
    )
    return user, _issue_link(uow, user, "invite")


def _issue_link(uow: UnitOfWork, user: User, purpose: str) -> str:
    uow.session.execute(
        update(UserToken)
        .where(UserToken.user_id == user.id, UserToken.used_at.is_(None))
        .values(used_at=func.now())
    )
    secret = new_secret("ut", uow.tenant)
    token = UserToken(
        tenant_id=uow.tenant,
        user_id=user.id,
        purpose=purpose,
        token_hash=digest(secret),
        expires_at=datetime.now(UTC) + LINK_VALIDITY[purpose],
    )
    uow.add(token)
    uow.flush()
    audit.record(
        uow,
        f"user.{purpose}_link_issued",
        user,
        {"link": str(token.id), "expires_at": token.expires_at},
    )
    return secret


def revoke_sessions(uow: UnitOfWork, user_id: uuid.UUID, reason: str) -> int:
    result = uow.session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(AuthSession.id)
    )
    ids = [str(r) for r in result.scalars()]
    if ids:
        audit.record(
            uow, "auth.sessions_revoked", ("user", user_id), {"sessions": ids, "reason": reason}
        )
    return len(ids)


def _other_active_admins(uow: UnitOfWork, user_id: uuid.UUID) -> int:
    admin = role_by_name(uow, "tenant_admin")
    return (
        uow.scalar(
            select(func.count())
            .select_from(UserRole)
            .join(User, (User.tenant_id == UserRole.tenant_id) & (User.id == UserRole.user_id))
            .where(UserRole.role_id == admin.id, User.status == "active", User.id != user_id)
        )
        or 0
    )


def deactivate_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = uow.get(User, user_id)
    grants.require_manage(uow, user, "user.deactivate")
    if user.status == "deactivated":
        return user
    if "tenant_admin" in {r.name for r in roles_of(uow, user.id)} and not _other_active_admins(
        uow, user.id
    ):
        raise Conflict(
            "this is the tenant's last active administrator; make someone else tenant_admin first"
        )
    user.status = "deactivated"
    revoke_sessions(uow, user.id, "deactivated")
    audit.record(uow, "user.deactivated", user, {})
    return user


def reactivate_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = uow.get(User, user_id)
    grants.require_manage(uow, user, "user.reactivate")
    if user.status != "deactivated":
        raise Conflict(f"user {user.email} is {user.status}, not deactivated")
    user.status = "active" if user.password_hash else "invited"
    audit.record(uow, "user.reactivated", user, {"status": user.status})
    return user


def reset_password(uow: UnitOfWork, user_id: uuid.UUID) -> str:
    """Invalidate the password and every session; return a one-time reset link
    secret (for an invited user: a new invitation)."""
    user = uow.get(User, user_id)
    grants.require_manage(uow, user, "user.password_reset")
    if user.status == "deactivated":
        raise Conflict(f"user {user.email} is deactivated; reactivate first")
    user.password_hash = None
    revoke_sessions(uow, user.id, "password_reset")
    return _issue_link(uow, user, "invite" if user.status == "invited" else "reset")


def use_link(uow: UnitOfWork, secret: str, new_password: str) -> User:
    """Accept an invitation or finish a reset: set the password, once."""
    token = uow.scalar(select(UserToken).where(UserToken.token_hash == digest(secret)))
    if token is None or token.used_at is not None or token.expires_at <= datetime.now(UTC):
        raise Invalid(
            "this link is not valid: it was used, replaced or has expired; "
            "ask your administrator for a new one"
        )
    user = uow.get(User, token.user_id)
    if user.status == "deactivated":
        raise Invalid("this account is deactivated")
    check_policy(new_password, context=(user.email, user.display_name))
    user.password_hash = hash_password(new_password)
    user.password_changed_at = datetime.now(UTC)
    user.status = "active"
    token.used_at = datetime.now(UTC)
    audit.record(uow, "user.password_set", user, {"via": token.purpose, "link": str(token.id)})
    return user


def change_password(uow: UnitOfWork, user_id: uuid.UUID, current: str, new: str) -> None:
    from invigil.security.passwords import verify_password

    user = uow.get(User, user_id)
    if not user.password_hash or not verify_password(user.password_hash, current):
        raise Invalid("the current password is wrong")
    check_policy(new, context=(user.email, user.display_name))
    user.password_hash = hash_password(new)
    user.password_changed_at = datetime.now(UTC)
    audit.record(uow, "user.password_changed", user, {})


def set_roles(uow: UnitOfWork, user_id: uuid.UUID, names: list[str]) -> list[Role]:
    """Replace a user's roles; each grant and revoke is its own audit entry."""
    user = uow.get(User, user_id)
    grants.require_manage(uow, user, "user.roles_set")
    if not names:
        raise Invalid("a user needs at least one role")
    wanted = {r.name: r for r in (role_by_name(uow, n) for n in names)}
    current = {r.name: r for r in roles_of(uow, user.id)}
    grants.require_roles(
        uow, [r for n, r in wanted.items() if n not in current], subject=("user", str(user.id))
    )
    if (
        "tenant_admin" in current
        and "tenant_admin" not in wanted
        and user.status == "active"
        and not _other_active_admins(uow, user.id)
    ):
        raise Conflict(
            "this is the tenant's last active administrator; make someone else tenant_admin first"
        )
    for name in sorted(set(current) - set(wanted)):
        uow.session.execute(
            delete(UserRole).where(
                UserRole.user_id == user.id, UserRole.role_id == current[name].id
            )
        )
        audit.record(uow, "role.revoked", user, {"role_id": current[name].id})
    for name in sorted(set(wanted) - set(current)):
        uow.add(UserRole(tenant_id=uow.tenant, user_id=user.id, role_id=wanted[name].id))
        audit.record(uow, "role.granted", user, {"role_id": wanted[name].id})
    uow.flush()
    return sorted(wanted.values(), key=lambda r: r.name)


def reset_mfa(uow: UnitOfWork, box: SecretBox, user_id: uuid.UUID) -> User:
    """Remove another user's second factor (a lost phone) and end their sessions."""
    user = uow.get(User, user_id)
    grants.require_manage(uow, user, "user.mfa_reset")
    mfa.disable(uow, box, user, None, by_admin=True)
    revoke_sessions(uow, user.id, "mfa_reset")
    return user


def require_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    try:
        return uow.get(User, user_id)
    except NotFound:
        raise NotFound(f"user {user_id} was not found") from None


def set_language(uow: UnitOfWork, user_id: uuid.UUID, code: str) -> User:
    """A staff user's language for the staff pages (English: stored as none),
    one the staff pages are complete in; audited."""
    chosen = i18n.check(code, offered=i18n.STAFF_LANGUAGES)
    stored = None if chosen == i18n.DEFAULT else chosen
    user = uow.get(User, user_id, label="user")
    if user.language != stored:
        before = user.language
        user.language = stored
        audit.record(
            uow, "user.language_changed", user, {"language": chosen, "before": before or "en"}
        )
    return user
