"""No one grants more than they hold.

A person acting through their roles may assign, create or widen a role only
if they hold every permission in it, and may manage another user (change
their roles, reset their password or authenticator, deactivate or reactivate
them, send them a new invitation) only if they hold every permission that
user holds. Nobody manages their own account through those paths: one's own
password and authenticator change on the account page, which asks for the
current password or a code, and one's own roles and status are changed by
someone else. Without this rule ``user:manage`` or ``role:manage`` alone is
``tenant_admin`` in one request (ADR 0013).

What the actor holds is read from their roles in the request's own
transaction, not from the access token: a role narrowed a moment ago counts
here at once. The operator (CLI) and the platform's jobs act outside the
tenant's roles and hold everything; any other kind of actor holds nothing.

Each check raises :class:`invigil.errors.Refused` (403, the missing
permissions named); the entry point keeps it as an ``access.denied`` audit
entry that outlives the rollback of the refused change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.errors import Refused
from invigil.identity.models import Role, User, UserRole
from invigil.security import permissions as perms

EVERYTHING = frozenset(p.value for p in perms.Permission)

# What each management action is called in messages and in the audit entry.
MANAGE = {
    "user.manage": "manage",
    "user.roles_set": "change the roles of",
    "user.deactivate": "deactivate",
    "user.reactivate": "reactivate",
    "user.password_reset": "reset the password of",
    "user.mfa_reset": "reset the authenticator of",
}
# One's own account: where to go instead (the management path is for others).
OWN = {
    "user.manage": "your own password and authenticator are on your account page, "
    "and another administrator changes your roles and status",
    "user.roles_set": "your own roles are changed by another administrator who holds "
    "every permission you hold",
    "user.deactivate": "another administrator can deactivate your account",
    "user.reactivate": "another administrator can reactivate your account",
    "user.password_reset": "change your own password on your account "
    "(POST /api/v1/me/password or the Account page), which asks for the current one",
    "user.mfa_reset": "remove your own authenticator on your account "
    "(POST /api/v1/me/totp/disable or the Account page) with a code from it",
}


def role_permissions(role: Role) -> frozenset[str]:
    if role.builtin:
        return frozenset(p.value for p in perms.BUILTIN_ROLES.get(role.name, frozenset()))
    return frozenset(role.permissions)


def user_permissions(uow: UnitOfWork, user_id: uuid.UUID) -> frozenset[str]:
    """Everything ``user_id`` holds through their roles now."""
    roles = uow.scalars(
        select(Role)
        .join(UserRole, (UserRole.tenant_id == Role.tenant_id) & (UserRole.role_id == Role.id))
        .where(UserRole.user_id == user_id)
    )
    return frozenset().union(*(role_permissions(r) for r in roles))


def actor_user(uow: UnitOfWork) -> uuid.UUID | None:
    """The staff user acting in this unit of work, if a person acts."""
    return uuid.UUID(uow.actor.id) if uow.actor.kind == "user" else None


def held(uow: UnitOfWork) -> frozenset[str]:
    """What the actor of ``uow`` may hand on."""
    if uow.actor.kind in ("operator", "system"):
        return EVERYTHING
    user_id = actor_user(uow)
    return user_permissions(uow, user_id) if user_id is not None else frozenset()


def _refused(
    detail: str, subject: tuple[str, str], attempted: str, missing: Iterable[str], **extra: object
) -> Refused:
    missing = sorted(missing)
    payload = {"attempted": attempted, "missing": missing, **extra}
    return Refused(detail, subject=subject, payload=payload, missing=missing)


def _listed(missing: Iterable[str]) -> str:
    return ", ".join(sorted(missing))


def require_roles(
    uow: UnitOfWork, roles: Iterable[Role], *, subject: tuple[str, str] | None
) -> None:
    """Refuse to grant any role of ``roles`` the actor does not wholly hold.
    The refusal is about ``subject`` (the user), or about the role when there
    is no user yet (an invitation: the audit log keeps no e-mail)."""
    have = held(uow)
    for role in sorted(roles, key=lambda r: r.name):
        missing = role_permissions(role) - have
        if missing:
            raise _refused(
                f"you cannot grant role {role.name!r}: it includes permissions your roles "
                f"do not hold ({_listed(missing)}); only someone who holds every "
                "permission of a role may grant it",
                subject or ("role", str(role.id)),
                "role.grant",
                missing,
                role_id=str(role.id),
            )


def require_permissions(
    uow: UnitOfWork, wanted: Iterable[str], *, role: str, subject: tuple[str, str], widen: bool
) -> None:
    """Refuse to put into role ``role`` a permission the actor does not hold.
    The refusal names the role by ``subject`` (its id, or ``new``), not by its
    name: a name is whatever its author typed (docs/adr/0062)."""
    missing = frozenset(wanted) - held(uow)
    if missing:
        what = f"add to role {role!r}" if widen else f"create role {role!r} with"
        raise _refused(
            f"you cannot {what} permissions your roles do not hold ({_listed(missing)}); "
            "only someone who holds a permission may put it in a role",
            subject,
            "role.update" if widen else "role.create",
            missing,
        )


def refusal_to_manage(uow: UnitOfWork, user: User, action: str) -> Refused | None:
    """Why the actor may not do ``action`` to ``user`` (None: they may)."""
    subject = ("user", str(user.id))
    if actor_user(uow) == user.id:
        return _refused(
            f"you cannot {MANAGE[action]} your own account here: {OWN[action]}",
            subject,
            action,
            (),
            reason="own_account",
        )
    missing = user_permissions(uow, user.id) - held(uow)
    if missing:
        return _refused(
            f"you cannot {MANAGE[action]} {user.email}: they hold permissions your roles "
            f"do not ({_listed(missing)}); only someone who holds every permission of a "
            "user may manage them",
            subject,
            action,
            missing,
        )
    return None


def require_manage(uow: UnitOfWork, user: User, action: str) -> None:
    refusal = refusal_to_manage(uow, user, action)
    if refusal is not None:
        raise refusal
