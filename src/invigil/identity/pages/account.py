"""One's own account, and the one-time links that set a password."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from invigil import i18n
from invigil.db.uow import Actor
from invigil.errors import Conflict, DomainError, Invalid
from invigil.i18n import N_
from invigil.identity import auth, mfa, service
from invigil.identity.api import visitor
from invigil.identity.models import User, UserToken
from invigil.identity.pages.common import (
    LINK_INVALID,
    FormStr,
    P,
    _change,
    _redirect,
    _render,
    viewer_user,
)
from invigil.security.permissions import ADMIN_PERMISSIONS
from invigil.security.tokens import digest, split_secret
from invigil.tenants.models import Tenant
from invigil.web.access import Public
from invigil.web.session import COOKIE, PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


# -- one's own account ------------------------------------------------------------


def _account_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    user = viewer_user(ctx)
    tenant = ctx.uow.get(Tenant, ctx.uow.tenant)
    is_admin = bool(ctx.permissions & {p.value for p in ADMIN_PERMISSIONS}) or ctx.mfa_enroll_only
    totp = (
        "enabled"
        if user.totp_enabled_at is not None
        else "pending"
        if user.totp_secret is not None
        else "off"
    )
    return _render(
        request,
        "account.html",
        ctx,
        status=status,
        user=user,
        tenant=tenant,
        roles=ctx.roles,
        totp=totp,
        enroll_only=ctx.mfa_enroll_only,
        mfa_required=tenant.require_mfa_for_admins and is_admin,
        languages=list(i18n.staff_languages()),
        **values,
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, ctx: PageContext = requires_page(P.ACCOUNT_SELF)) -> HTMLResponse:
    return _account_page(request, ctx)


@router.post("/account/language", response_class=HTMLResponse)
def account_language(
    request: Request,
    csrf: FormStr = "",
    language: FormStr = "",
    ctx: PageContext = requires_page(P.ACCOUNT_SELF),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            user = service.set_language(ctx.uow, ctx.user_id, language[:35])
    except Invalid as exc:
        return _account_page(request, ctx, status=exc.status, language_error=exc.detail)
    request.state.locale = i18n.staff_language(user.language)  # the notice in the new language
    return _redirect(request, "/account", "language-saved")


@router.post("/account/password", response_class=HTMLResponse)
def account_password(
    request: Request,
    csrf: FormStr = "",
    current_password: FormStr = "",
    new_password: FormStr = "",
    confirm_password: FormStr = "",
    ctx: PageContext = requires_page(P.ACCOUNT_SELF),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        if new_password != confirm_password:
            raise Invalid(N_("the new password and its confirmation differ"))
        with _change(ctx.uow):
            service.change_password(ctx.uow, ctx.user_id, current_password, new_password)
    except (Invalid, Conflict) as exc:
        field = "confirm_password" if new_password != confirm_password else "new_password"
        if "current" in exc.detail:
            field = "current_password"
        return _account_page(
            request,
            ctx,
            status=exc.status,
            password_error=exc.detail,
            password_field=field,
            summary_note=N_("Your password was not changed. Type the passwords again."),
        )
    return _redirect(request, "/account", "password-changed")


@router.post("/account/totp", response_class=HTMLResponse)
def account_totp_begin(
    request: Request, csrf: FormStr = "", ctx: PageContext = requires_page(P.ACCOUNT_SELF)
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            secret, uri = mfa.begin(ctx.uow, request.app.state.services.box, viewer_user(ctx))
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, totp_error=exc.detail)
    svg = segno.make(uri, error="m").svg_inline(
        scale=5,
        dark="#1d2430",
        light="#ffffff",
        title=i18n.gettext(request.state.locale, N_("QR code of the authenticator key")),
    )
    qr = Markup(svg)  # noqa: S704 - segno writes only path data and our fixed title
    return _render(
        request,
        "totp_setup.html",
        ctx,
        secret=secret,
        uri=uri,
        qr=qr,
        grouped=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    )


@router.post("/account/totp/confirm", response_class=HTMLResponse)
def account_totp_confirm(
    request: Request,
    csrf: FormStr = "",
    code: FormStr = "",
    ctx: PageContext = requires_page(P.ACCOUNT_SELF),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            mfa.confirm(ctx.uow, request.app.state.services.box, viewer_user(ctx), code[:16])
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, totp_error=exc.detail)
    if ctx.mfa_enroll_only:  # this session may do nothing else: start afresh
        auth.end_session(ctx.uow, ctx.session_id, reason="mfa_enrolled")
        response = _redirect(request, "/signin", "sign-in-again")
        response.delete_cookie(
            COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )
        return response
    return _redirect(request, "/account", "mfa-enabled")


@router.post("/account/totp/disable", response_class=HTMLResponse)
def account_totp_disable(
    request: Request,
    csrf: FormStr = "",
    code: FormStr = "",
    ctx: PageContext = requires_page(P.ACCOUNT_SELF),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            mfa.disable(ctx.uow, request.app.state.services.box, viewer_user(ctx), code[:16])
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, totp_error=exc.detail)
    return _redirect(request, "/account", "mfa-disabled")


# -- one-time links: accept an invitation, finish a reset (public) ------------------


def _link_state(request: Request, token: str) -> tuple[str, str] | None:
    """(purpose, email) of a usable link, or None. use_link decides for real."""
    tenant_id = split_secret("ut", token)
    if tenant_id is None:
        return None
    with request.app.state.db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        found = uow.scalar(select(UserToken).where(UserToken.token_hash == digest(token)))
        if found is None or found.used_at is not None or found.expires_at <= datetime.now(UTC):
            return None
        user = uow.get(User, found.user_id)
        return (found.purpose, user.email) if user.status != "deactivated" else None


@router.get("/account/set-password", response_class=HTMLResponse, dependencies=[Public])
def set_password_form(request: Request, token: str = "") -> HTMLResponse:
    token = token[:200]
    state = _link_state(request, token)
    if state is None:
        return _render(request, "set_password.html", None, status=404, invalid=LINK_INVALID)
    return _render(
        request, "set_password.html", None, token=token, purpose=state[0], email=state[1]
    )


@router.post("/account/set-password", response_class=HTMLResponse, dependencies=[Public])
def set_password(
    request: Request, token: FormStr = "", password: FormStr = "", confirm_password: FormStr = ""
) -> Response:
    tenant_id = split_secret("ut", token[:200])
    if tenant_id is None:
        return _render(request, "set_password.html", None, status=404, invalid=LINK_INVALID)
    error: DomainError | None = None
    slug = email = ""
    with request.app.state.db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        try:
            if password != confirm_password:
                raise Invalid(N_("the password and its confirmation differ"))
            with _change(uow):
                user = service.use_link(uow, token, password)
                uow.actor = Actor("user", str(user.id))
            slug, email = uow.get(Tenant, tenant_id).slug, user.email
        except Invalid as exc:
            error = exc
    if error is not None:
        state = _link_state(request, token)
        if state is None:
            return _render(request, "set_password.html", None, status=404, invalid=LINK_INVALID)
        return _render(
            request,
            "set_password.html",
            None,
            status=error.status,
            error=error.detail,
            token=token,
            purpose=state[0],
            email=state[1],
            form_anchor="confirm_password" if "confirmation" in error.detail else "password",
            summary_note=N_("No password was set. Type it again."),
        )
    signin = "/signin?" + urlencode({"tenant": slug, "email": email})
    return _render(request, "set_password_done.html", None, signin=signin, email=email)
