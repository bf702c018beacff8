"""Signing in and out of the staff pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match

from invigil.db import platform
from invigil.db.engine import UNREACHABLE
from invigil.i18n import N_
from invigil.identity import auth
from invigil.identity.api import client_address, visitor
from invigil.identity.pages.common import (
    SESSION_SECONDS,
    FormStr,
    P,
    _redirect,
    _render,
)
from invigil.security.passwords import MAX_LENGTH, verify_password
from invigil.web.access import Public
from invigil.web.session import (
    COOKIE,
    PageContext,
    check_csrf,
    keep_presession,
    presession,
    requires_page,
    signin_csrf,
    signin_csrf_ok,
)

router = APIRouter(include_in_schema=False)


# -- signing in and out -----------------------------------------------------------


def _safe_next(request: Request, target: str) -> str | None:
    """Only a path of this site that answers GET (never another origin)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    path = urlsplit(target).path
    if path in ("/signin", "/signout"):
        return None
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    for route in request.app.router.routes:
        if route.matches(scope)[0] == Match.FULL:
            return target
    return None


def _signin_page(
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    tenant: str = "",
    email: str = "",
    next_path: str = "",
    headers: dict[str, str] | None = None,
    ask_code: bool = False,
) -> HTMLResponse:
    secret, new = presession(request)
    # The tenant's single sign-on button, when the page knows the tenant.
    from invigil.identity.pages.sso import provider_name

    try:
        provider = provider_name(request, tenant)
    except UNREACHABLE:  # the page still offers passwords while the database is away
        provider = None
    response = _render(
        request,
        "signin.html",
        None,
        status=status,
        headers=headers,
        error=error,
        tenant=tenant,
        email=email,
        next_path=_safe_next(request, next_path) or "",
        ask_code=ask_code,
        sso_provider=provider,
        signin_csrf=signin_csrf(secret),
        form_anchor="otp" if ask_code else "email",
        summary_note="",
    )
    if new:
        keep_presession(request, response, secret)
    return response


@router.get("/signin", response_class=HTMLResponse, dependencies=[Public])
def signin_form(
    request: Request,
    next_path: Annotated[str, Query(alias="next")] = "",
    tenant: str = "",
    email: str = "",
) -> HTMLResponse:
    return _signin_page(request, tenant=tenant[:40], email=email[:320], next_path=next_path)


@router.post("/signin", response_class=HTMLResponse, dependencies=[Public])
def signin(
    request: Request,
    tenant: FormStr = "",
    email: FormStr = "",
    password: FormStr = "",
    otp: FormStr = "",
    csrf: FormStr = "",
    next_path: Annotated[str, Form(alias="next")] = "",
) -> Response:
    db, services = request.app.state.db, request.app.state.services
    address = client_address(request)
    tenant, email, otp = tenant.strip().lower()[:40], email.strip()[:320], otp.strip()[:8]
    if not signin_csrf_ok(request, csrf):  # before anything is checked or counted
        return _signin_page(
            request,
            status=403,
            error=N_("The sign-in form expired or did not come from this site; sign in again."),
            tenant=tenant,
            email=email,
            next_path=next_path,
        )
    ref = platform.tenant_by_slug(db, tenant) if tenant and len(password) <= MAX_LENGTH else None
    if ref is None:
        verify_password(None, password[:MAX_LENGTH])  # the same time as a wrong password
        return _signin_page(
            request, status=401, error=auth.FAILED, tenant=tenant, email=email, next_path=next_path
        )
    with db.unit_of_work(ref.id, visitor(request, ref.id)) as uow:
        outcome = auth.sign_in(
            uow,
            services.settings,
            services.box,
            email=email,
            password=password,
            otp=otp or None,
            address=address,
            user_agent=request.headers.get("user-agent", ""),
            kind="web",
        )
    # Out of the unit of work: a failure is committed (counted) like a success.
    if outcome.throttled:
        return _signin_page(
            request,
            status=429,
            error=auth.THROTTLED,
            tenant=tenant,
            email=email,
            next_path=next_path,
            headers={"Retry-After": str(outcome.retry_after)},
        )
    if not outcome.ok or outcome.session is None or outcome.refresh_token is None:
        if outcome.sso_required:
            error = auth.SSO_REQUIRED
        elif outcome.mfa_required:
            error = N_("Enter the code from your authenticator app, and your password again.")
        else:
            error = auth.FAILED
        return _signin_page(
            request,
            status=401,
            error=error,
            tenant=tenant,
            email=email,
            next_path=next_path,
            ask_code=outcome.mfa_required,
        )
    if outcome.session.mfa_enroll_only:
        target = "/account"
    else:
        target = _safe_next(request, next_path) or "/home"  # what needs them now
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        outcome.refresh_token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=SESSION_SECONDS,
    )
    return response


@router.post("/signout")
def signout(
    request: Request, csrf: FormStr = "", ctx: PageContext = requires_page(P.ACCOUNT_SELF)
) -> Response:
    check_csrf(ctx, csrf)
    auth.end_session(ctx.uow, ctx.session_id)
    response = _redirect(request, "/signin", "signed-out")
    response.delete_cookie(
        COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return response
