"""User administration pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, Refused
from invigil.i18n import N_
from invigil.identity import grants, service, views
from invigil.identity.models import User
from invigil.identity.pages.common import (
    FormList,
    FormStr,
    P,
    _change,
    _link,
    _parse_id,
    _redirect,
    _render,
)
from invigil.web import table
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


# -- users --------------------------------------------------------------------------


# The status filter's options, as the list shows them.
STATUS_OPTIONS = {
    "active": N_("Active"),
    "invited": N_("Invited"),
    "deactivated": N_("Deactivated"),
}


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


def users_table(ctx: PageContext) -> table.Table:
    """Staff accounts: search by email or name, filter by status and role."""
    role_names = [r.name for r in service.list_roles(ctx.uow)]
    return table.Table(
        name="users",
        path="/admin/users",
        caption=N_("Staff accounts"),
        columns=(
            table.Column("email", N_("Email"), func.lower(User.email), export=lambda u: u.email),
            table.Column(
                "name", N_("Name"), func.lower(User.display_name), export=lambda u: u.display_name
            ),
            table.Column("status", N_("Status"), User.status, export=lambda u: u.status),
            table.Column("roles", N_("Roles"), export=lambda u: " ".join(u.roles)),
            table.Column("mfa", N_("MFA"), export=lambda u: "on" if u.mfa_enabled else "off"),
            table.Column(
                "last_sign_in",
                N_("Last sign-in"),
                User.last_sign_in_at,
                datetime.fromisoformat,
                nullable=True,
                export=lambda u: _iso(u.last_sign_in_at),
            ),
        ),
        id=User.id,
        default_sort="email",
        search=(User.email, User.display_name),
        search_label=N_("Email or name"),
        filters=(
            table.Filter(
                "status",
                N_("Status"),
                [(s, STATUS_OPTIONS[s]) for s in ("active", "invited", "deactivated")],
                lambda stmt, v: stmt.where(User.status == v),
                all_label=N_("Any status"),
            ),
            table.Filter(
                "role",
                N_("Role"),
                [(n, n) for n in role_names],
                lambda stmt, v: stmt.where(User.id.in_(service.holders_of(v))),
                all_label=N_("Any role"),
            ),
        ),
        empty=N_("No staff account yet."),
        empty_filtered=N_("No account matches this search or these filters."),
    )


def _users_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> Response:
    view = table.read(users_table(ctx), request.query_params)
    if view.csv:
        return table.csv_response(
            view, views.users_out(ctx.uow, table.all_rows(ctx.uow, view, select(User)))
        )
    shown = table.fetch(ctx.uow, view, select(User))
    values.setdefault("form", {"email": "", "display_name": "", "roles": []})
    return _render(
        request,
        "users.html",
        ctx,
        status=status,
        t=shown.with_rows(views.users_out(ctx.uow, shown.rows)),
        roles=service.list_roles(ctx.uow),
        **values,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, ctx: PageContext = requires_page(P.USER_VIEW)) -> Response:
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
            raise Invalid(N_("a name may have at most 200 characters"))
        with _change(ctx.uow):
            user, secret = service.invite_user(
                ctx.uow, email=email, roles=chosen, display_name=display_name
            )
    except (Invalid, Conflict, Refused) as exc:
        return _users_page(
            request, ctx, status=exc.status, error=exc.detail, form=form, form_anchor="invite-email"
        )
    return _users_page(
        request,
        ctx,
        status=201,
        invited={"email": user.email, "id": user.id, "link": _link(request, secret)},
    )


def _not_yours(ctx: PageContext, user: User) -> str | None:
    """Why the viewer may not manage ``user`` (None: they may), said up front."""
    if not ctx.can(P.USER_MANAGE):
        return None
    refusal = grants.refusal_to_manage(ctx.uow, user, "user.manage")
    return refusal.detail if refusal is not None else None


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
        is_self=user.id == ctx.user_id,
        not_yours=_not_yours(ctx, user),
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
    except (Invalid, Conflict, Refused) as exc:
        return _user_page(
            request,
            ctx,
            uid,
            status=exc.status,
            error=exc.detail,
            chosen=roles or [],
            form_anchor="roles-h",
        )
    return _redirect(request, f"/admin/users/{uid}", "roles-saved")


def _user_action(
    request: Request,
    ctx: PageContext,
    user_id: str,
    csrf: str,
    act: Callable[[UnitOfWork, uuid.UUID], object],
    notice: str,
) -> Response:
    """One button on the user page: check, act in a savepoint, come back."""
    check_csrf(ctx, csrf)
    uid = service.require_user(ctx.uow, _parse_id(user_id, "user")).id
    try:
        with _change(ctx.uow):
            act(ctx.uow, uid)
    except (Invalid, Conflict, Refused) as exc:
        return _user_page(request, ctx, uid, status=exc.status, error=exc.detail)
    return _redirect(request, f"/admin/users/{uid}", notice)


@router.post("/admin/users/{user_id}/deactivate", response_class=HTMLResponse)
def user_deactivate(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    return _user_action(request, ctx, user_id, csrf, service.deactivate_user, "deactivated")


@router.post("/admin/users/{user_id}/reactivate", response_class=HTMLResponse)
def user_reactivate(
    request: Request,
    user_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.USER_MANAGE),
) -> Response:
    return _user_action(request, ctx, user_id, csrf, service.reactivate_user, "reactivated")


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
    except (Invalid, Conflict, Refused) as exc:
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
    uid = service.require_user(ctx.uow, _parse_id(user_id, "user")).id
    try:
        with _change(ctx.uow):
            service.reset_mfa(ctx.uow, request.app.state.services.box, uid)
    except (Invalid, Conflict, Refused) as exc:
        return _user_page(request, ctx, uid, status=exc.status, error=exc.detail)
    return _redirect(request, f"/admin/users/{uid}", "mfa-reset")
