"""Server-rendered pages for staff: sign-in, own account, user and role admin.

The pages do what the JSON API does (``identity/api.py``) through the same
services. Every POST form carries the session's CSRF token, checked first.
A successful change redirects (303) back with a fixed notice; a domain error
re-renders the page with the message, what was typed (never passwords) and
the error's status. Each change runs in a savepoint, so a refused change
leaves nothing behind while the request's transaction still commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import segno
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm.exc import DetachedInstanceError
from starlette.routing import Match

from invigil.db import platform
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Conflict, DomainError, Invalid, NotFound
from invigil.identity import auth, mfa, service, views
from invigil.identity.api import client_address
from invigil.identity.models import AuthSession, Role, User, UserRole, UserToken
from invigil.security.access import Public
from invigil.security.passwords import MAX_LENGTH, verify_password
from invigil.security.permissions import ADMIN_PERMISSIONS, Permission
from invigil.security.tokens import digest, split_secret
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from invigil.web.pages import templates
from invigil.web.session import COOKIE, PageContext, check_csrf, csrf_token, requires_page

router = APIRouter(include_in_schema=False)
P = Permission
SESSION_SECONDS = 12 * 3600
LINK_INVALID = (
    "This link is not valid: it was used, replaced by a newer one or has expired. "
    "Ask your administrator for a new one."
)

# Notices are fixed texts chosen by key: a crafted URL cannot put words on the page.
NOTICES = {
    "signed-out": "You are signed out.",
    "sign-in-again": "Your authenticator is set up. Sign in again with a code from it.",
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
            ("/admin/users", "Users", P.USER_VIEW),
            ("/admin/roles", "Roles", P.ROLE_VIEW),
            ("/admin/security", "Security", P.TENANT_MANAGE),
            ("/admin/audit", "Audit log", P.AUDIT_VIEW),
            ("/account", "Account", P.ACCOUNT_SELF),
        )
        if page.can(perm)
    ]
    email: str | None
    csrf: str | None
    try:
        email, csrf = page.user.email, page.csrf
    except DetachedInstanceError:
        cookie = request.cookies.get(COOKIE, "")
        email = None
        csrf = csrf_token(AuthSession(token_hash=digest(cookie))) if cookie else None
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
    values.setdefault("notice", NOTICES.get(request.query_params.get("notice", "")))
    response = templates.TemplateResponse(
        request, f"identity/{name}", {"page": ctx, **values}, status_code=status
    )
    # Pages may show one-time links and secrets: never cache, never leak the URL.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _redirect(path: str, notice: str | None = None) -> RedirectResponse:
    assert notice is None or notice in NOTICES
    return RedirectResponse(f"{path}?notice={notice}" if notice else path, status_code=303)


@contextmanager
def _change(uow: UnitOfWork) -> Iterator[None]:
    """One change in a savepoint: a refused change rolls back alone."""
    with uow.session.begin_nested():
        yield


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
    return _render(
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
    )


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
    next_path: Annotated[str, Form(alias="next")] = "",
) -> Response:
    db, services = request.app.state.db, request.app.state.services
    address = client_address(request)
    tenant, email, otp = tenant.strip().lower()[:40], email.strip()[:320], otp.strip()[:8]
    ref = platform.tenant_by_slug(db, tenant) if tenant and len(password) <= MAX_LENGTH else None
    if ref is None:
        verify_password(None, password[:MAX_LENGTH])  # the same time as a wrong password
        return _signin_page(
            request, status=401, error=auth.FAILED, tenant=tenant, email=email, next_path=next_path
        )
    with db.unit_of_work(ref.id, Actor("anonymous", address)) as uow:
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
        error = (
            "Enter the code from your authenticator app, and your password again."
            if outcome.mfa_required
            else auth.FAILED
        )
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
        default = "/admin/users" if P.USER_VIEW.value in outcome.permissions else "/account"
        target = _safe_next(request, next_path) or default
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
    auth.end_session(ctx.uow, ctx.session.id)
    response = _redirect("/signin", "signed-out")
    response.delete_cookie(
        COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return response


# -- one's own account ------------------------------------------------------------


def _account_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    user = ctx.user
    tenant = ctx.uow.get(Tenant, ctx.uow.tenant)
    is_admin = (
        bool(ctx.permissions & {p.value for p in ADMIN_PERMISSIONS}) or ctx.session.mfa_enroll_only
    )
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
        enroll_only=ctx.session.mfa_enroll_only,
        mfa_required=tenant.require_mfa_for_admins and is_admin,
        **values,
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, ctx: PageContext = requires_page(P.ACCOUNT_SELF)) -> HTMLResponse:
    return _account_page(request, ctx)


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
            raise Invalid("the new password and its confirmation differ")
        with _change(ctx.uow):
            service.change_password(ctx.uow, ctx.user.id, current_password, new_password)
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, password_error=exc.detail)
    return _redirect("/account", "password-changed")


@router.post("/account/totp", response_class=HTMLResponse)
def account_totp_begin(
    request: Request, csrf: FormStr = "", ctx: PageContext = requires_page(P.ACCOUNT_SELF)
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            secret, uri = mfa.begin(ctx.uow, request.app.state.services.box, ctx.user)
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, totp_error=exc.detail)
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#1d2430", light="#ffffff", title="QR code of the authenticator key"
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
            mfa.confirm(ctx.uow, request.app.state.services.box, ctx.user, code[:16])
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, totp_error=exc.detail)
    if ctx.session.mfa_enroll_only:  # this session may do nothing else: start afresh
        auth.end_session(ctx.uow, ctx.session.id, reason="mfa_enrolled")
        response = _redirect("/signin", "sign-in-again")
        response.delete_cookie(
            COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )
        return response
    return _redirect("/account", "mfa-enabled")


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
            mfa.disable(ctx.uow, request.app.state.services.box, ctx.user, code[:16])
    except (Invalid, Conflict) as exc:
        return _account_page(request, ctx, status=exc.status, totp_error=exc.detail)
    return _redirect("/account", "mfa-disabled")


# -- one-time links: accept an invitation, finish a reset (public) ------------------


def _link_state(request: Request, token: str) -> tuple[str, str] | None:
    """(purpose, email) of a usable link, or None. use_link decides for real."""
    tenant_id = split_secret("ut", token)
    if tenant_id is None:
        return None
    with request.app.state.db.unit_of_work(
        tenant_id, Actor("anonymous", client_address(request))
    ) as uow:
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
    with request.app.state.db.unit_of_work(
        tenant_id, Actor("anonymous", client_address(request))
    ) as uow:
        try:
            if password != confirm_password:
                raise Invalid("the password and its confirmation differ")
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
        )
    signin = "/signin?" + urlencode({"tenant": slug, "email": email})
    return _render(request, "set_password_done.html", None, signin=signin, email=email)


# -- users --------------------------------------------------------------------------


def _users_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    users = views.users_out(ctx.uow, service.list_users(ctx.uow))
    values.setdefault("form", {"email": "", "display_name": "", "roles": []})
    return _render(
        request,
        "users.html",
        ctx,
        status=status,
        users=users,
        roles=service.list_roles(ctx.uow),
        **values,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, ctx: PageContext = requires_page(P.USER_VIEW)) -> HTMLResponse:
    return _users_page(request, ctx)


@router.post("/admin/users", response_class=HTMLResponse)
def invite(
    request: Request,
    csrf: FormStr = "",
    email: FormStr = "",
    display_name: FormStr = "",
    roles: FormList = None,
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    chosen = roles or []
    form = {"email": email[:320], "display_name": display_name[:200], "roles": chosen}
    try:
        if len(display_name) > 200:
            raise Invalid("a name may have at most 200 characters")
        with _change(ctx.uow):
            user, secret = service.invite_user(
                ctx.uow, email=email, roles=chosen, display_name=display_name
            )
    except (Invalid, Conflict) as exc:
        return _users_page(request, ctx, status=exc.status, error=exc.detail, form=form)
    return _users_page(
        request,
        ctx,
        status=201,
        invited={"email": user.email, "id": user.id, "link": _link(request, secret)},
    )


def _user_page(
    request: Request, ctx: PageContext, user_id: uuid.UUID, *, status: int = 200, **values: Any
) -> HTMLResponse:
    user = service.require_user(ctx.uow, user_id)
    shown = views.users_out(ctx.uow, [user])[0]
    values.setdefault("chosen", shown.roles)
    return _render(
        request,
        "user.html",
        ctx,
        status=status,
        user=shown,
        has_totp=user.totp_secret is not None,
        is_self=user.id == ctx.user.id,
        roles=service.list_roles(ctx.uow),
        **values,
    )


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_detail(
    request: Request, user_id: str, ctx: PageContext = requires_page(P.USER_VIEW)
) -> HTMLResponse:
    return _user_page(request, ctx, _parse_id(user_id, "user"))


@router.post("/admin/users/{user_id}/roles", response_class=HTMLResponse)
def user_roles(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    roles: FormList = None,
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    uid = service.require_user(ctx.uow, _parse_id(user_id, "user")).id
    try:
        with _change(ctx.uow):
            service.set_roles(ctx.uow, uid, roles or [])
    except (Invalid, Conflict) as exc:
        return _user_page(
            request, ctx, uid, status=exc.status, error=exc.detail, chosen=roles or []
        )
    return _redirect(f"/admin/users/{uid}", "roles-saved")


@router.post("/admin/users/{user_id}/deactivate", response_class=HTMLResponse)
def user_deactivate(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    uid = service.require_user(ctx.uow, _parse_id(user_id, "user")).id
    try:
        with _change(ctx.uow):
            service.deactivate_user(ctx.uow, uid)
    except (Invalid, Conflict) as exc:
        return _user_page(request, ctx, uid, status=exc.status, error=exc.detail)
    return _redirect(f"/admin/users/{uid}", "deactivated")


@router.post("/admin/users/{user_id}/reactivate", response_class=HTMLResponse)
def user_reactivate(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    uid = service.require_user(ctx.uow, _parse_id(user_id, "user")).id
    try:
        with _change(ctx.uow):
            service.reactivate_user(ctx.uow, uid)
    except (Invalid, Conflict) as exc:
        return _user_page(request, ctx, uid, status=exc.status, error=exc.detail)
    return _redirect(f"/admin/users/{uid}", "reactivated")


@router.post("/admin/users/{user_id}/reset-password", response_class=HTMLResponse)
def user_reset_password(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    uid = service.require_user(ctx.uow, _parse_id(user_id, "user")).id
    try:
        with _change(ctx.uow):
            secret = service.reset_password(ctx.uow, uid)
    except (Invalid, Conflict) as exc:
        return _user_page(request, ctx, uid, status=exc.status, error=exc.detail)
    return _user_page(request, ctx, uid, link=_link(request, secret))


@router.post("/admin/users/{user_id}/mfa/reset", response_class=HTMLResponse)
def user_reset_mfa(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    user = service.require_user(ctx.uow, _parse_id(user_id, "user"))
    try:
        with _change(ctx.uow):
            mfa.disable(ctx.uow, request.app.state.services.box, user, None, by_admin=True)
            service.revoke_sessions(ctx.uow, user.id, "mfa_reset")
    except (Invalid, Conflict) as exc:
        return _user_page(request, ctx, user.id, status=exc.status, error=exc.detail)
    return _redirect(f"/admin/users/{user.id}", "mfa-reset")


# -- roles --------------------------------------------------------------------------


def _roles_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("form", {"name": "", "description": "", "permissions": []})
    return _render(
        request,
        "roles.html",
        ctx,
        status=status,
        roles=views.roles_out(ctx.uow, service.list_roles(ctx.uow)),
        groups=permission_groups(),
        all_permissions=len(Permission),
        **values,
    )


@router.get("/admin/roles", response_class=HTMLResponse)
def roles(request: Request, ctx: PageContext = requires_page(P.ROLE_VIEW)) -> HTMLResponse:
    return _roles_page(request, ctx)


@router.post("/admin/roles", response_class=HTMLResponse)
def role_create(
    request: Request,
    csrf: FormStr = "",
    name: FormStr = "",
    description: FormStr = "",
    permissions: FormList = None,
    ctx: PageContext = requires_page(P.ROLE_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    chosen = permissions or []
    form = {"name": name[:64], "description": description[:500], "permissions": chosen}
    try:
        if len(description) > 500:
            raise Invalid("a description may have at most 500 characters")
        with _change(ctx.uow):
            role = service.create_role(
                ctx.uow, name=name.strip(), description=description, permissions=chosen
            )
    except (Invalid, Conflict) as exc:
        return _roles_page(request, ctx, status=exc.status, error=exc.detail, form=form)
    return _redirect(f"/admin/roles/{role.id}", "role-created")


def _role_page(
    request: Request, ctx: PageContext, role_id: uuid.UUID, *, status: int = 200, **values: Any
) -> HTMLResponse:
    role = ctx.uow.get(Role, role_id)
    shown = views.roles_out(ctx.uow, [role])[0]
    holders = ctx.uow.scalars(
        select(User)
        .join(UserRole, (UserRole.tenant_id == User.tenant_id) & (UserRole.user_id == User.id))
        .where(UserRole.role_id == role.id)
        .order_by(User.email)
    )
    values.setdefault("form", {"description": shown.description, "permissions": shown.permissions})
    return _render(
        request,
        "role.html",
        ctx,
        status=status,
        role=shown,
        holders=holders,
        groups=permission_groups(),
        editable=not role.builtin and ctx.can(P.ROLE_MANAGE),
        **values,
    )


@router.get("/admin/roles/{role_id}", response_class=HTMLResponse)
def role_detail(
    request: Request, role_id: str, ctx: PageContext = requires_page(P.ROLE_VIEW)
) -> HTMLResponse:
    return _role_page(request, ctx, _parse_id(role_id, "role"))


@router.post("/admin/roles/{role_id}", response_class=HTMLResponse)
def role_update(
    request: Request,
    role_id: str,
    csrf: FormStr = "",
    description: FormStr = "",
    permissions: FormList = None,
    ctx: PageContext = requires_page(P.ROLE_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    rid = ctx.uow.get(Role, _parse_id(role_id, "role")).id
    chosen = permissions or []
    try:
        if len(description) > 500:
            raise Invalid("a description may have at most 500 characters")
        with _change(ctx.uow):
            service.update_role(ctx.uow, rid, description=description, permissions=chosen)
    except (Invalid, Conflict) as exc:
        return _role_page(
            request,
            ctx,
            rid,
            status=exc.status,
            error=exc.detail,
            form={"description": description[:500], "permissions": chosen},
        )
    return _redirect(f"/admin/roles/{rid}", "role-saved")


@router.post("/admin/roles/{role_id}/delete", response_class=HTMLResponse)
def role_delete(
    request: Request,
    role_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.ROLE_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    rid = ctx.uow.get(Role, _parse_id(role_id, "role")).id
    try:
        with _change(ctx.uow):
            service.delete_role(ctx.uow, rid)
    except (Invalid, Conflict) as exc:
        return _role_page(request, ctx, rid, status=exc.status, error=exc.detail)
    return _redirect("/admin/roles", "role-deleted")


# -- tenant security policy -----------------------------------------------------------


def _security_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    return _render(
        request,
        "security.html",
        ctx,
        status=status,
        tenant=ctx.uow.get(Tenant, ctx.uow.tenant),
        own_mfa=ctx.user.totp_enabled_at is not None,
        **values,
    )


@router.get("/admin/security", response_class=HTMLResponse)
def security(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> HTMLResponse:
    return _security_page(request, ctx)


@router.post("/admin/security", response_class=HTMLResponse)
def security_save(
    request: Request,
    csrf: FormStr = "",
    require_mfa_for_admins: Annotated[str | None, Form()] = None,
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            tenants.set_mfa_policy(ctx.uow, require_for_admins=require_mfa_for_admins is not None)
    except (Invalid, Conflict) as exc:
        return _security_page(request, ctx, status=exc.status, error=exc.detail)
    return _redirect("/admin/security", "policy-saved")
