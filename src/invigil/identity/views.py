"""Shaping identity records for the API and the pages (no rules here)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, select

from invigil.db.uow import UnitOfWork
from invigil.identity.grants import role_permissions
from invigil.identity.models import Role, User, UserRole
from invigil.identity.schemas import RoleOut, UserOut


def role_names_by_user(uow: UnitOfWork, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    names: dict[uuid.UUID, list[str]] = defaultdict(list)
    if not user_ids:
        return names
    rows = uow.session.execute(
        select(UserRole.user_id, Role.name)
        .join(Role, (Role.tenant_id == UserRole.tenant_id) & (Role.id == UserRole.role_id))
        .where(UserRole.user_id.in_(user_ids))
        .order_by(Role.name)
    )
    for user_id, name in rows:
        names[user_id].append(name)
    return names


def user_out(user: User, roles: list[str]) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        status=user.status,
        mfa_enabled=user.totp_enabled_at is not None,
        roles=roles,
        created_at=user.created_at,
        last_sign_in_at=user.last_sign_in_at,
    )


def users_out(uow: UnitOfWork, users: list[User]) -> list[UserOut]:
    names = role_names_by_user(uow, [u.id for u in users])
    return [user_out(u, names.get(u.id, [])) for u in users]


def roles_out(uow: UnitOfWork, roles: list[Role]) -> list[RoleOut]:
    rows = uow.session.execute(select(UserRole.role_id, func.count()).group_by(UserRole.role_id))
    counts: dict[uuid.UUID, int] = {role_id: n for role_id, n in rows}
    return [
        RoleOut(
            id=r.id,
            name=r.name,
            description=r.description,
            builtin=r.builtin,
            permissions=sorted(role_permissions(r)),
            holders=counts.get(r.id, 0),
        )
        for r in roles
    ]
