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

from invigil import audit, i18n
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound, Refused
from invigil.i18n import N_
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
LINK_INVALID = N_(
    "This link is not valid: it was used, replaced by a newer one or has expired. "
    "Ask your administrator for a new one."
)

# Notices are fixed texts chosen by key: a crafted URL cannot put words on the page.
SIGNIN_NOTICES = {
    "signed-out": N_("You are signed out."),
    "sign-in-again": N_("Your authenticator is set up. Sign in again with a code from it."),
}
NOTICES = {
    "password-changed": N_("Your password was changed."),
    "mfa-enabled": N_("Your authenticator is set up: signing in now asks for a code from it."),
    "mfa-disabled": N_("Your authenticator was removed."),
    "roles-saved": N_("Roles saved. They apply from the user's next page."),
    "deactivated": N_("The user was deactivated and signed out everywhere."),
    "reactivated": N_("The user was reactivated."),
    "mfa-reset": N_("The user's authenticator was removed and their sessions ended."),
    "role-created": N_("Role created."),
    "role-saved": N_("Role saved."),
    "role-deleted": N_("Role deleted."),
    "policy-saved": N_("Security settings saved."),
    "branding-saved": N_("Accent colour saved. Candidates see it from their next page."),
    "logo-saved": N_("Logo saved. Candidates see it from their next page."),
    "logo-removed": N_("Logo removed."),
    "languages-saved": N_("Languages saved. Candidates see them from their next page."),
    "language-saved": N_("Language saved."),
}


# A staff account's status as the pages say it (the stored value is the key).
STATUSES = {"active": N_("active"), "invited": N_("invited"), "deactivated": N_("deactivated")}
# How long a one-time link stays valid, as the page around it says.
LINK_VALID = {"seven_days": N_("7 days"), "two_hours": N_("2 hours")}


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
            ("/home", N_("Home"), P.ACCOUNT_SELF),
            ("/admin/users", N_("Users"), P.USER_VIEW),
            ("/admin/roles", N_("Roles"), P.ROLE_VIEW),
            ("/admin/security", N_("Security"), P.TENANT_MANAGE),
            ("/admin/sso", N_("Single sign-on"), P.TENANT_MANAGE),
            ("/admin/lti", N_("Learning platforms"), P.TENANT_MANAGE),
            ("/admin/branding", N_("Branding"), P.TENANT_MANAGE),
            ("/admin/webhooks", N_("Webhooks"), P.TENANT_MANAGE),
            ("/admin/ai", N_("AI"), P.TENANT_MANAGE),
            ("/admin/audit", N_("Audit log"), P.AUDIT_VIEW),
            ("/admin/retention", N_("Retention"), P.RETENTION_VIEW),
            ("/admin/trust", N_("Trust report"), P.RETENTION_VIEW),
            ("/authoring/banks", N_("Questions"), P.QUESTION_VIEW),
            ("/authoring/exams", N_("Exams"), P.EXAM_VIEW),
            ("/delivery/invitations", N_("Candidates"), P.CANDIDATE_VIEW),
            ("/delivery/attempts", N_("Attempts"), P.ATTEMPT_VIEW),
            ("/proctoring/live", N_("Live"), P.PROCTOR_LIVE),
            ("/proctoring/reviews", N_("Reviews"), P.VIOLATION_REVIEW),
            ("/grading", N_("Grading"), P.GRADE_SUBMIT),
            ("/shortlists", N_("Shortlists"), P.SHORTLIST_VIEW),
            ("/certification", N_("Certification"), P.CERTIFICATE_VIEW),
            ("/billing", N_("Billing"), P.BILLING_VIEW),
            ("/admin/privacy/requests", N_("Privacy requests"), P.PRIVACY_REQUEST),
            ("/account", N_("Account"), P.ACCOUNT_SELF),
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
    values.setdefault("statuses", STATUSES)
    for key, words in LINK_VALID.items():
        values.setdefault(key, words)
    return render(
        request, f"identity/{name}", {"page": ctx, **values}, status=status, headers=headers
    )


def _redirect(request: Request, path: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``path`` with a one-shot message (web.flash); to the sign-in page,
    where no session is left to seal it, the fixed notice's key in the address."""
    if notice in SIGNIN_NOTICES:
        return RedirectResponse(f"{path}?notice={notice}", status_code=303)
    assert notice is None or notice in NOTICES
    # Written in the reader's language now: the cookie carries the sentence as shown.
    words = i18n.gettext(i18n.locale_of({"request": request}), NOTICES[notice]) if notice else None
    return flash.redirect(request, path, words)


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
