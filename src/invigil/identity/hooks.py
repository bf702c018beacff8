"""What identity provides to the layers below it (docs/adr/0019-layers.md).

Installed when the identity package is imported (its ``__init__``); the
shell imports every domain at start-up, so the hooks are in place before the
first request, command or job.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from invigil.audit import names
from invigil.db.uow import UnitOfWork
from invigil.identity import auth
from invigil.identity import home as home_widgets
from invigil.identity.models import Role, User
from invigil.identity.service import ensure_builtin_roles, permissions_of, roles_of
from invigil.security import sessions
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant


def web_viewer(uow: UnitOfWork, settings: Any, secret: str) -> sessions.WebViewer | None:
    found = auth.web_session(uow, settings, secret)
    if found is None:
        return None
    session, user = found
    roles = roles_of(uow, user.id)
    return sessions.WebViewer(
        user.id,
        permissions_of(roles),
        session.mfa_enroll_only,
        session_id=session.id,
        email=user.email,
        roles=tuple(r.name for r in roles),
        token_hash=session.token_hash or b"",
        language=user.language,
    )


def user_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """A staff member as people know them: name and email."""
    rows = uow.session.execute(
        select(User.id, User.display_name, User.email).where(User.id.in_(ids))
    )
    return {i: f"{name} <{email}>" if name else email for i, name, email in rows}


def role_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    rows = uow.session.execute(select(Role.id, Role.name).where(Role.id.in_(ids)))
    return {i: name for i, name in rows}


def tenant_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    rows = uow.session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))
    return {i: name for i, name in rows}


def install() -> None:
    names.register("user", user_names)
    names.register("role", role_names)
    names.register("tenant", tenant_names)
    sessions.provide(active=auth.active_session, web=web_viewer)
    tenants.on_created(ensure_builtin_roles)  # a new tenant gets the built-in roles
    home_widgets.install()
