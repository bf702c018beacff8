"""Who is signed in, as the layers below the domains ask it.

``web.access`` (bearer tokens), ``evidence.api`` (a signed link's
viewer) and the web session must check a session, but sessions, users and
roles belong to the identity domain, which sits above them. So identity
provides the checks here when it is imported (:mod:`invigil.identity.hooks`;
the shell imports every domain at start-up) and these layers call them: no
import upwards. Nothing provided means nothing is trusted: every check
refuses with an error, never a silent success.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from invigil.db.uow import UnitOfWork


@dataclass(frozen=True)
class WebViewer:
    """A web session found by its cookie: the user, their roles and what
    those grant. ``token_hash`` keys the session's CSRF token."""

    user_id: uuid.UUID
    permissions: frozenset[str]
    mfa_enroll_only: bool
    session_id: uuid.UUID | None = None
    email: str = ""
    roles: tuple[str, ...] = ()
    token_hash: bytes = b""
    language: str | None = None  # the user's own choice for the staff pages


ActiveCheck = Callable[[UnitOfWork, uuid.UUID, uuid.UUID], bool]
WebCheck = Callable[[UnitOfWork, Any, str], WebViewer | None]


@dataclass
class _Provided:
    active: ActiveCheck | None = None
    web: WebCheck | None = None


_provided = _Provided()


def provide(*, active: ActiveCheck, web: WebCheck) -> None:
    """Called by the identity domain (idempotent: the last one wins)."""
    _provided.active, _provided.web = active, web


def active(uow: UnitOfWork, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """The session behind an access token is still live (not signed out,
    revoked, expired, nor its user deactivated)."""
    if _provided.active is None:
        raise RuntimeError("no session check provided: the identity domain was not loaded")
    return _provided.active(uow, session_id, user_id)


def web_viewer(uow: UnitOfWork, settings: Any, secret: str) -> WebViewer | None:
    """The viewer of a web session cookie, or None when it is not live."""
    if _provided.web is None:
        raise RuntimeError("no session check provided: the identity domain was not loaded")
    return _provided.web(uow, settings, secret)
