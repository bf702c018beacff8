"""Role administration pages."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil.errors import Conflict, Invalid, Refused
from invigil.i18n import N_
from invigil.identity import service, views
from invigil.identity.models import Role, User, UserRole
from invigil.identity.pages.common import (
    FormList,
    FormStr,
    P,
    _change,
    _parse_id,
    _redirect,
    _render,
    permission_groups,
)
from invigil.security.permissions import Permission
from invigil.web import table
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


# -- roles --------------------------------------------------------------------------


ROLES = table.Table(
    name="roles",
    path="/admin/roles",
    caption=N_("Roles"),
    columns=(
        table.Column("name", N_("Role"), Role.name, export=lambda r: r.name),
        table.Column(
            "kind",
            N_("Kind"),
            Role.builtin,
            bool,
            export=lambda r: "built-in" if r.builtin else "custom",
        ),
        table.Column("holders", N_("Holders"), export=lambda r: r.holders, numeric=True),
        table.Column("permissions", N_("Permissions"), export=lambda r: " ".join(r.permissions)),
    ),
    id=Role.id,
    default_sort="name",
    search=(Role.name, Role.description),
    search_label=N_("Role name or description"),
    empty=N_("There are no roles yet."),
    empty_filtered=N_("No role matches this search."),
)


def _roles_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> Response:
    view = table.read(ROLES, request.query_params)
    if view.csv:
        found = table.all_rows(ctx.uow, view, select(Role))
        return table.csv_response(view, views.roles_out(ctx.uow, found))
    shown = table.fetch(ctx.uow, view, select(Role))
    values.setdefault("form", {"name": "", "description": "", "permissions": []})
    return _render(
        request,
        "roles.html",
        ctx,
        status=status,
        t=shown.with_rows(views.roles_out(ctx.uow, shown.rows)),
        groups=permission_groups(),
        all_permissions=len(Permission),
        **values,
    )


@router.get("/admin/roles", response_class=HTMLResponse)
def roles(request: Request, ctx: PageContext = requires_page(P.ROLE_VIEW)) -> Response:
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
            raise Invalid(N_("a description may have at most 500 characters"))
        with _change(ctx.uow):
            role = service.create_role(
                ctx.uow, name=name.strip(), description=description, permissions=chosen
            )
    except (Invalid, Conflict, Refused) as exc:
        return _roles_page(
            request, ctx, status=exc.status, error=exc.detail, form=form, form_anchor="role-name"
        )
    return _redirect(request, f"/admin/roles/{role.id}", "role-created")


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
            raise Invalid(N_("a description may have at most 500 characters"))
        with _change(ctx.uow):
            service.update_role(ctx.uow, rid, description=description, permissions=chosen)
    except (Invalid, Conflict, Refused) as exc:
        return _role_page(
            request,
            ctx,
            rid,
            status=exc.status,
            error=exc.detail,
            form={"description": description[:500], "permissions": chosen},
            form_anchor="edit-h",
        )
    return _redirect(request, f"/admin/roles/{rid}", "role-saved")


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
    except (Invalid, Conflict, Refused) as exc:
        return _role_page(request, ctx, rid, status=exc.status, error=exc.detail)
    return _redirect(request, "/admin/roles", "role-deleted")
