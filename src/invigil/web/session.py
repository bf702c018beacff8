"""Web pages sign in with a server-side session: an opaque cookie
(``HttpOnly``, ``SameSite=Strict``), 30 minutes idle, 12 hours at most.
Permissions are read fresh on every page, and every POST form carries a
CSRF token derived from the session.

The sign-in form has no session yet, so its token is derived the same way
from a pre-session cookie (:data:`PRESESSION`, random, set with the form):
another site cannot sign a browser in to an account of the attacker's
choosing (login CSRF), as it can neither read the form's token nor set the
cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request, Response

from invigil import audit, i18n
from invigil.db import platform
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import DomainError, Forbidden, Refused
from invigil.security import sessions
from invigil.security.permissions import Permission
from invigil.security.tokens import split_secret
from invigil.web.access import route_refusal

COOKIE = "invigil_session"
PRESESSION = "invigil_presession"


class SignInRequired(DomainError):
    """Answered with a redirect to the sign-in page (see app.py)."""

    status = 303
    slug = "sign-in-required"

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to continue")
        self.next_path = next_path

    def headers(self) -> dict[str, str]:
        return {"Location": f"/signin?next={quote(self.next_path, safe='')}"}


@dataclass
class PageContext:
    """What a page knows about its viewer. ``email`` and ``csrf`` are plain
    strings taken before any check, so an error page (whose transaction was
    rolled back) can still show who is signed in and offer sign-out."""

    uow: UnitOfWork
    user_id: uuid.UUID
    session_id: uuid.UUID
    mfa_enroll_only: bool
    permissions: frozenset[str]
    roles: list[str]
    tenant_slug: str
    email: str
    csrf: str

    def can(self, permission: Permission | str) -> bool:
        return str(permission) in self.permissions


def csrf_token(token_hash: bytes) -> str:
    """The staff forms' CSRF token of a session (keyed by its token's hash)."""
    assert token_hash, "a web session always has a token"
    return hmac.new(token_hash, b"invigil-csrf", hashlib.sha256).hexdigest()[:32]


def check_csrf(ctx: PageContext, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, ctx.csrf):
        raise Forbidden("the form expired or did not come from this site; reload and try again")


def presession(request: Request) -> tuple[str, bool]:
    """The browser's pre-session secret, and whether it is new (then the
    response must set it: :func:`keep_presession`)."""
    secret = request.cookies.get(PRESESSION, "")
    if len(secret) == 43:  # token_urlsafe(32)
        return secret, False
    return secrets.token_urlsafe(32), True


def keep_presession(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        PRESESSION,
        secret,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/signin",
    )


def signin_csrf(secret: str) -> str:
    """The sign-in form's token for this pre-session secret."""
    return hmac.new(secret.encode(), b"invigil-signin-csrf", hashlib.sha256).hexdigest()[:32]


def signin_csrf_ok(request: Request, submitted: str) -> bool:
    secret = request.cookies.get(PRESESSION, "")
    return bool(secret and submitted) and hmac.compare_digest(submitted, signin_csrf(secret))


def requires_page(permission: Permission) -> Any:
    def dependency(request: Request) -> Iterator[PageContext]:
        secret = request.cookies.get(COOKIE, "")
        tenant_id = split_secret("ws", secret)
        if tenant_id is None:
            raise SignInRequired(request.url.path)
        db, settings = request.app.state.db, request.app.state.settings
        actor: Actor | None = None
        try:
            with db.unit_of_work(tenant_id, Actor("anonymous", "web")) as uow:
                viewer = sessions.web_viewer(uow, settings, secret)
                if viewer is None or viewer.session_id is None:
                    raise SignInRequired(request.url.path)
                uow.actor = actor = Actor("user", str(viewer.user_id))
                granted = viewer.permissions
                if viewer.mfa_enroll_only:
                    granted = frozenset({Permission.ACCOUNT_SELF.value})
                ctx = PageContext(
                    uow,
                    viewer.user_id,
                    viewer.session_id,
                    viewer.mfa_enroll_only,
                    granted,
                    list(viewer.roles),
                    platform.bound_tenant(uow).slug,
                    viewer.email,
                    csrf_token(viewer.token_hash),
                )
                request.state.page = ctx
                # Staff pages speak the user's language (English unless chosen on
                # /account), among the languages staff pages are complete in.
                request.state.locale = i18n.staff_language(viewer.language)
                if permission.value not in granted:
                    raise route_refusal(request, permission, "your role does not allow this page")
                yield ctx
        except Refused as refused:  # the request rolled back; its refusal is kept
            if actor is not None:
                audit.keep_refusal(db, tenant_id, actor, refused)
            raise

    dependency.__permission__ = permission.value  # type: ignore[attr-defined]
    return Depends(dependency, scope="function")


def requires_page_caller(permission: Permission) -> Any:
    """As :func:`requires_page`, but the unit of work that checks the session
    ends before the route runs (its ``uow`` is closed: the route opens its
    own, ``db.unit_of_work(ctx.uow.tenant, ctx.uow.actor)``), for a form
    that waits on something slow outside the database (an AI provider)."""
    checked = requires_page(permission).dependency

    def dependency(request: Request) -> PageContext:
        steps = checked(request)
        ctx: PageContext = next(steps)
        for _ in steps:  # ends the unit of work (it commits nothing)
            pass
        return ctx

    dependency.__permission__ = permission.value  # type: ignore[attr-defined]
    return Depends(dependency)
