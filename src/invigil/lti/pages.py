"""The learning platforms page for tenant administrators (``tenant:manage``):
the registrations, a form to register one, and for each one everything
its LMS administrator types in (login, launch, deep linking and key set
URLs) with the form to change it, its resource links and their exams."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.content.models import Exam
from invigil.errors import Conflict, Invalid, NotFound, Refused
from invigil.i18n import N_
from invigil.identity.models import Role
from invigil.identity.pages.common import _change
from invigil.lti import api, dynamic, keys, platforms
from invigil.lti.models import LtiLink
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form(max_length=4000)]
SAVED = N_("Learning platform saved.")
REMOVED = N_("Learning platform removed.")
ROTATED = N_("A new tool key signs from now on; the previous one stays published.")
MAPPED = N_("Resource link saved.")


def _say(request: Request, path: str, words: str) -> Response:
    return flash.redirect(request, path, i18n.gettext(i18n.locale_of({"request": request}), words))


def _page(
    request: Request, ctx: PageContext, name: str, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault(
        "roles",
        [
            r.name
            for r in ctx.uow.scalars(select(Role).order_by(Role.name))
            if r.name != "tenant_admin"
        ],
    )
    if name == "platforms.html":
        values.setdefault("pending", dynamic.pending(ctx.uow))
    return render(request, f"lti/{name}", {"page": ctx, **values}, status=status)


def _values(form: dict[str, str]) -> platforms.Values:
    return platforms.Values(
        name=form["name"][:200],
        issuer=form["issuer"][:2100],
        client_id=form["client_id"][:600],
        deployment_ids=[p.strip() for p in form["deployment_ids"].replace(",", "\n").splitlines()][
            :60
        ],
        jwks_url=form["jwks_url"][:2100],
        auth_login_url=form["auth_login_url"][:2100],
        token_url=form["token_url"][:2100],
        instructor_role=form["instructor_role"][:64] or None,
        enabled=form["enabled"] == "on",
        roster_sync=form["roster_sync"] == "on",
    )


def _problem(exc: Invalid | Conflict | Refused | NotFound) -> list[dict[str, str]]:
    return [{"field": str(exc.extensions.get("field") or "name"), "message": exc.detail}]


@router.get("/admin/lti", response_class=HTMLResponse)
def lti_list(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    return _page(request, ctx, "platforms.html", rows=platforms.listed(ctx.uow), chosen={})


@router.post("/admin/lti", response_class=HTMLResponse)
def lti_register(
    request: Request,
    csrf: FormStr = "",
    name: FormStr = "",
    issuer: FormStr = "",
    client_id: FormStr = "",
    deployment_ids: FormStr = "",
    jwks_url: FormStr = "",
    auth_login_url: FormStr = "",
    token_url: FormStr = "",
    instructor_role: FormStr = "",
    enabled: FormStr = "on",
    roster_sync: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    form = dict(
        name=name,
        issuer=issuer,
        client_id=client_id,
        deployment_ids=deployment_ids,
        jwks_url=jwks_url,
        auth_login_url=auth_login_url,
        token_url=token_url,
        instructor_role=instructor_role,
        enabled=enabled,
        roster_sync=roster_sync,
    )
    try:
        with _change(ctx.uow):
            row = platforms.create(ctx.uow, request.app.state.services.settings, _values(form))
    except (Invalid, Conflict, Refused, NotFound) as exc:
        return _page(
            request,
            ctx,
            "platforms.html",
            status=exc.status,
            rows=platforms.listed(ctx.uow),
            chosen=form,
            problems=_problem(exc),
        )
    return _say(request, f"/admin/lti/{row.id}", SAVED)


def _detail(
    request: Request, ctx: PageContext, platform_id: uuid.UUID, *, status: int = 200, **values: Any
) -> HTMLResponse:
    row = platforms.get(ctx.uow, platform_id)
    form = {
        "name": row.name,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "deployment_ids": "\n".join(row.deployment_ids),
        "jwks_url": row.jwks_url,
        "auth_login_url": row.auth_login_url,
        "token_url": row.token_url,
        "instructor_role": row.instructor_role or "",
        "enabled": "on" if row.enabled else "",
        "roster_sync": "on" if row.roster_sync else "",
    }
    values.setdefault("chosen", form)
    links = ctx.uow.scalars(
        select(LtiLink).where(LtiLink.platform_id == row.id).order_by(LtiLink.created_at)
    )
    exams = ctx.uow.scalars(select(Exam).where(Exam.status == "published").order_by(Exam.title))
    return _page(
        request,
        ctx,
        "platform.html",
        status=status,
        row=row,
        links=links,
        exams=exams,
        urls=platforms.ToolUrls.of(request.app.state.services.settings, row.public_key),
        kid=keys.current(ctx.uow, request.app.state.services.box).kid,
        **values,
    )


@router.get("/admin/lti/{platform_id}", response_class=HTMLResponse)
def lti_detail(
    request: Request, platform_id: uuid.UUID, ctx: PageContext = requires_page(P.TENANT_MANAGE)
) -> Response:
    return _detail(request, ctx, platform_id)


@router.post("/admin/lti/{platform_id}", response_class=HTMLResponse)
def lti_change(
    request: Request,
    platform_id: uuid.UUID,
    csrf: FormStr = "",
    name: FormStr = "",
    issuer: FormStr = "",
    client_id: FormStr = "",
    deployment_ids: FormStr = "",
    jwks_url: FormStr = "",
    auth_login_url: FormStr = "",
    token_url: FormStr = "",
    instructor_role: FormStr = "",
    enabled: FormStr = "",
    roster_sync: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    form = dict(
        name=name,
        issuer=issuer,
        client_id=client_id,
        deployment_ids=deployment_ids,
        jwks_url=jwks_url,
        auth_login_url=auth_login_url,
        token_url=token_url,
        instructor_role=instructor_role,
        enabled=enabled,
        roster_sync=roster_sync,
    )
    try:
        with _change(ctx.uow):
            platforms.update(
                ctx.uow, request.app.state.services.settings, platform_id, _values(form)
            )
    except (Invalid, Conflict, Refused) as exc:
        return _detail(
            request, ctx, platform_id, status=exc.status, chosen=form, problems=_problem(exc)
        )
    return _say(request, f"/admin/lti/{platform_id}", SAVED)


@router.post("/admin/lti/{platform_id}/delete", response_class=HTMLResponse)
def lti_remove(
    request: Request,
    platform_id: uuid.UUID,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    platforms.remove(ctx.uow, platform_id)
    return _say(request, "/admin/lti", REMOVED)


@router.post("/admin/lti/{platform_id}/links/{link_id}", response_class=HTMLResponse)
def lti_map(
    request: Request,
    platform_id: uuid.UUID,
    link_id: uuid.UUID,
    csrf: FormStr = "",
    exam_id: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        chosen = uuid.UUID(exam_id) if exam_id.strip() else None
    except ValueError:
        chosen = uuid.UUID(int=0)
    try:
        with _change(ctx.uow):
            api.map_exam(ctx.uow, platform_id, link_id, chosen)
    except (Invalid, Conflict, NotFound) as exc:
        return _detail(
            request,
            ctx,
            platform_id,
            status=exc.status,
            problems=[{"field": "exam_id", "message": exc.detail}],
        )
    return _say(request, f"/admin/lti/{platform_id}", MAPPED)


@router.post("/admin/lti-registration-urls", response_class=HTMLResponse)
def lti_registration_url(
    request: Request,
    csrf: FormStr = "",
    reg_name: FormStr = "",
    reg_instructor_role: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    """A one-time registration URL (LTI Dynamic Registration), shown once."""
    check_csrf(ctx, csrf)
    form = {"reg_name": reg_name, "reg_instructor_role": reg_instructor_role}
    rows = platforms.listed(ctx.uow)
    try:
        with _change(ctx.uow):
            made = dynamic.make(
                ctx.uow,
                request.app.state.services.settings,
                reg_name[:200],
                reg_instructor_role[:64] or None,
            )
    except (Invalid, Conflict, Refused, NotFound) as exc:
        field = "reg_" + str(exc.extensions.get("field") or "name")
        return _page(request, ctx, "platforms.html", status=exc.status, rows=rows, chosen=form,
                     problems=[{"field": field, "message": exc.detail}])  # fmt: skip
    response = _page(request, ctx, "platforms.html", rows=rows, chosen=form, new_url=made.url)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/lti-keys/rotate", response_class=HTMLResponse)
def lti_rotate(
    request: Request, csrf: FormStr = "", ctx: PageContext = requires_page(P.TENANT_MANAGE)
) -> Response:
    check_csrf(ctx, csrf)
    keys.rotate(ctx.uow, request.app.state.services.box)
    return _say(request, "/admin/lti", ROTATED)
