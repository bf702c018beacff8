"""Shared by the staff pages: rendering, notices, the signed-in bar, helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound, Refused
from invigil.identity.models import User
from invigil.security.permissions import Permission
from invigil.web import flash
from invigil.web.pages import render, templates
from invigil.web.session import PageContext

P = Permission


def viewer_user(ctx: PageContext) -> User:
    """The signed-in user's row (already in the unit of work's identity map:
    the page's session check loaded it)."""
    return ctx.uow.get(User, ctx.user_id)


SESSION_SECONDS = 12 * 3600
LINK_INVALID = (
    "This link is not valid: it was used, replaced by a newer one or has expired. "
    "Ask your administrator for a new one."
)

# Notices are fixed texts chosen by key: a crafted URL cannot put words on the page.
SIGNIN_NOTICES = {
    "signed-out": "You are signed out.",
    "sign-in-again": "Your authenticator is set up. Sign in again with a code from it.",
}
NOTICES = {
    "password-changed": "Your password was changed.",
    "mfa-enabled": "Your authenticator is set up: signing in now asks for a code from it.",
    "mfa-disabled": "Your authenticator was removed.",
    "roles-saved": "Roles saved. They apply from the user's next page.",
    "deactivated": "The user was deactivated and signed out everywhere.",
    "reactivated": "The user was reactivated.",
    "mfa-reset": "The user's authenticator was removed and their sessions ended.",
    "role-created": "Role created.",
    "role-saved": "Role saved.",
    "role-deleted": "Role deleted.",
    "policy-saved": "Security settings saved.",
    "branding-saved": "Accent colour saved. Candidates see it from their next page.",
    "logo-saved": "Logo saved. Candidates see it from their next page.",
    "logo-removed": "Logo removed.",
    "languages-saved": "Languages saved. Candidates see them from their next page.",
    "language-saved": "Language saved.",
}


# -- rendering helpers ------------------------------------------------------------


@dataclass(frozen=True)
class Nav:
    email: str | None
    tenant: str
    csrf: str | None
    links: list[tuple[str, str]]


def page_nav(request: Request, page: PageContext | None) -> Nav | None:
    """The signed-in bar of base.html. On an error page the request's
    transaction was rolled back and its rows are detached: fall back to
    what the request itself carries (the cookie gives the CSRF token)."""
    if page is None:
        return None
    links = [
        (href, label)
        for href, label, perm in (
            ("/home", "Home", P.ACCOUNT_SELF),
            ("/admin/users", "Users", P.USER_VIEW),
            ("/admin/roles", "Roles", P.ROLE_VIEW),
            ("/admin/security", "Security", P.TENANT_MANAGE),
            ("/admin/branding", "Branding", P.TENANT_MANAGE),
            ("/admin/audit", "Audit log", P.AUDIT_VIEW),
            ("/authoring/banks", "Questions", P.QUESTION_VIEW),
            ("/authoring/exams", "Exams", P.EXAM_VIEW),
            ("/delivery/invitations", "Candidates", P.CANDIDATE_VIEW),
            ("/delivery/attempts", "Attempts", P.ATTEMPT_VIEW),
            ("/proctoring/reviews", "Reviews", P.VIOLATION_REVIEW),
            ("/account", "Account", P.ACCOUNT_SELF),
        )
        if page.can(perm)
    ]
    email: str | None = page.email
    csrf: str | None = page.csrf
    return Nav(email=email, tenant=page.tenant_slug, csrf=csrf, links=links)


def when(value: datetime | None, empty: str = "never") -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value is not None else empty


def sentence(message: str) -> str:
    """A service message ("the code is not valid") as a sentence on a page."""
    message = message.strip()
    if not message:
        return message
    return message[0].upper() + message[1:] + ("" if message[-1] in ".!?" else ".")


templates.env.globals["page_nav"] = page_nav
templates.env.filters["when"] = when
templates.env.filters["sentence"] = sentence


def _render(
    request: Request,
    name: str,
    ctx: PageContext | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    # Only the sign-in page reads a notice from its address: after signing out
    # there is no session left to seal a one-shot message with (web.flash).
    if name == "signin.html":
        values.setdefault("notice", SIGNIN_NOTICES.get(request.query_params.get("notice", "")))
    return render(
        request, f"identity/{name}", {"page": ctx, **values}, status=status, headers=headers
    )


def _redirect(request: Request, path: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``path`` with a one-shot message (web.flash); to the sign-in page,
    where no session is left to seal it, the fixed notice's key in the address."""
    if notice in SIGNIN_NOTICES:
        return RedirectResponse(f"{path}?notice={notice}", status_code=303)
    assert notice is None or notice in NOTICES
    return flash.redirect(request, path, NOTICES[notice] if notice else None)


@contextmanager
def _change(uow: UnitOfWork) -> Iterator[None]:
    """One change in a savepoint: a refused change rolls back alone. A
    refusal to grant or manage is kept in the request's transaction, which
    commits; should it escape the page, ``requires_page`` keeps it instead."""
    try:
        with uow.session.begin_nested():
            yield
    except Refused as refused:
        audit.record_refusal(uow, refused)
        raise


def _link(request: Request, secret: str) -> str:
    return f"{request.app.state.services.settings.issuer}/account/set-password?token={secret}"


def _parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value} was not found") from None


def permission_groups() -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for perm in Permission:
        groups.setdefault(perm.value.split(":")[0], []).append(perm.value)
    return sorted(groups.items())


FormStr = Annotated[str, Form()]
FormList = Annotated[list[str] | None, Form()]
