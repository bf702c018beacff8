"""What identity provides to the layers below it (docs/adr/0019-layers.md).

Installed when the identity package is imported (its ``__init__``); the
shell imports every domain at start-up, so the hooks are in place before the
first request, command or job.
"""

from __future__ import annotations

from typing import Any

from invigil.db.uow import UnitOfWork
from invigil.identity import auth
from invigil.identity import home as home_widgets
from invigil.identity.service import ensure_builtin_roles, permissions_of, roles_of
from invigil.security import sessions
from invigil.tenants import service as tenants


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
    )


def install() -> None:
    sessions.provide(active=auth.active_session, web=web_viewer)
    tenants.on_created(ensure_builtin_roles)  # a new tenant gets the built-in roles
    home_widgets.install()
