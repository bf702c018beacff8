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
from invigil.i18n import N_
from invigil.identity import auth
from invigil.identity import home as home_widgets
from invigil.identity.models import AuthSession, Role, SignInFailure, User
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


def user_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, names.Named]:
    """A staff member as people know them now: name and email from the live
    row (the log keeps only the id), marked when the account is deactivated
    or no longer exists."""
    rows = uow.session.execute(
        select(User.id, User.display_name, User.email, User.status).where(User.id.in_(ids))
    )
    found: dict[uuid.UUID, names.Named] = {}
    for i, name, email, status in rows:
        label = f"{name} <{email}>" if name else email
        found[i] = (label, N_("deactivated")) if status == "deactivated" else label
    for i in set(ids) - set(found):
        found[i] = (names.short(str(i)), N_("account no longer exists"))
    return found


def session_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """A sign-in session by where it came from (address, browser), while its row is kept."""
    rows = uow.session.execute(
        select(AuthSession.id, AuthSession.address, AuthSession.user_agent).where(
            AuthSession.id.in_(ids)
        )
    )
    return {i: f"{address}, {agent}" if agent else address for i, address, agent in rows}


def failure_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """A failed sign-in by the e-mail typed and the address it came from,
    while its row is kept (the entry holds only their keyed hashes)."""
    rows = uow.session.execute(
        select(SignInFailure.id, SignInFailure.email_key, SignInFailure.address).where(
            SignInFailure.id.in_(ids)
        )
    )
    return {i: f"{email} \u2190 {address}" for i, email, address in rows}


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
    names.register("auth_session", session_names)
    names.register("sign_in_failure", failure_names)
    sessions.provide(active=auth.active_session, web=web_viewer)
    tenants.on_created(ensure_builtin_roles)  # a new tenant gets the built-in roles
    home_widgets.install()
