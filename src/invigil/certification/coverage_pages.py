"""Staff pages of groups and coverage: the dashboard
(``/certification/coverage``: counts per group x program with bar charts
drawn on the server as SVG, the table behind each), the matrix of people x
required programs (paged, filtered), the groups with their members,
managers and required programs (forms to change them), the membership CSV
import (upload, read the report, confirm) and the exports.

Reading needs ``certificate:view``, changing ``certification:manage``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.certification import coverage, groups, membership_csv
from invigil.certification.coverage import STATUSES, Filters
from invigil.certification.coverage_api import export_response
from invigil.certification.models import Program
from invigil.delivery import candidates
from invigil.errors import Conflict, Invalid, NotFound
from invigil.i18n import N_
from invigil.identity import service as identity
from invigil.identity.pages.common import FormList, FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)

PAGE = 50
KIND_LABELS = {"team": N_("Team"), "role": N_("Job role"), "site": N_("Site")}
# The statuses in words (coverage.LABELS says the same in English).
STATUS_LABELS = {
    "covered": N_("Covered"),
    "expiring_90": N_("Expires in 90 days"),
    "expiring_60": N_("Expires in 60 days"),
    "expiring_30": N_("Expires in 30 days"),
    "grace": N_("In grace"),
    "lapsed": N_("Lapsed"),
    "never": N_("Never certified"),
}


def say(request: Request, message: str) -> str:
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def _now() -> datetime:
    return datetime.now(UTC)


def _filters(request: Request) -> tuple[Filters, dict[str, str]]:
    """The filters from the query string; a malformed one is a 404 (an id)
    or the form re-shown with the error (a status)."""
    q = request.query_params
    raw = {k: (q.get(k) or "")[:64] for k in ("group_id", "program_id", "status")}
    group = _parse_id(raw["group_id"], "group") if raw["group_id"] else None
    program = _parse_id(raw["program_id"], "program") if raw["program_id"] else None
    status = raw["status"] or None
    if status is not None and status not in STATUSES:
        raise Invalid(say(request, N_("Choose a status from the list.")), field="status")
    return Filters(group_id=group, program_id=program, status=status), raw


def _offset(request: Request) -> int:
    try:
        value = int(request.query_params.get("offset") or 0)
    except ValueError:
        return 0
    return min(max(value, 0), 10_000_000)


def _choices(ctx: PageContext) -> dict[str, Any]:
    return {
        "all_groups": [v.group for v in groups.listing(ctx.uow)],
        "all_programs": list(ctx.uow.scalars(select(Program).order_by(Program.name))),
        "statuses": STATUSES,
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "field_prefix": "f-",
    }


def _query(raw: dict[str, str], **more: object) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in {**raw, **more}.items() if v not in ("", None)})


@router.get("/certification/coverage", response_class=HTMLResponse)
def dashboard(request: Request, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)) -> Response:
    values: dict[str, Any] = {"page": ctx, **_choices(ctx)}
    try:
        filters, raw = _filters(request)
    except Invalid as exc:
        return render(request, "certification/coverage.html",
                      values | {"problems": [{"field": "status", "message": exc.detail}],
                                "raw": {}, "summary": None}, status=422)  # fmt: skip
    now = _now()
    found = coverage.summary(ctx.uow, filters, now=now)
    offset = _offset(request)
    values |= {
        "raw": raw,
        "now": now,
        "summary": found,
        "lines": found.lines[offset : offset + PAGE],
        "offset": offset,
        "size": PAGE,
        "query": lambda **more: _query(raw, **more),
    }
    return render(request, "certification/coverage.html", values)


@router.get("/certification/coverage/matrix", response_class=HTMLResponse)
def matrix_page(request: Request, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)) -> Response:
    values: dict[str, Any] = {"page": ctx, **_choices(ctx)}
    try:
        filters, raw = _filters(request)
    except Invalid as exc:
        return render(request, "certification/matrix.html",
                      values | {"problems": [{"field": "status", "message": exc.detail}],
                                "raw": {}, "matrix": None}, status=422)  # fmt: skip
    now = _now()
    offset = _offset(request)
    found = coverage.matrix(ctx.uow, filters, now=now, offset=offset, limit=PAGE)
    values |= {"raw": raw, "now": now, "matrix": found, "offset": offset, "size": PAGE,
               "query": lambda **more: _query(raw, **more)}  # fmt: skip
    return render(request, "certification/matrix.html", values)


@router.get("/certification/coverage/export")
def export_page(request: Request, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)) -> Response:
    filters, _ = _filters(request)
    view = request.query_params.get("view", "summary")
    fmt = request.query_params.get("format", "csv")
    if view not in ("summary", "matrix"):
        raise Invalid("view is summary or matrix", field="view")
    if fmt not in ("csv", "xlsx"):
        raise Invalid("format is csv or xlsx", field="format")
    return export_response(ctx.uow, view, fmt, filters, _now())


# -- groups -------------------------------------------------------------------


def _groups_page(request: Request, ctx: PageContext, status: int = 200, **extra: Any) -> Response:
    values = {"page": ctx, "groups": groups.listing(ctx.uow), "kinds": groups.KINDS,
              "kind_labels": KIND_LABELS, "field_prefix": "g-", **extra}  # fmt: skip
    return render(request, "certification/groups.html", values, status=status)


@router.get("/certification/groups", response_class=HTMLResponse)
def groups_page(request: Request, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)) -> Response:
    return _groups_page(request, ctx)


@router.post("/certification/groups", response_class=HTMLResponse)
def create_group(
    request: Request,
    csrf: FormStr = "",
    name: FormStr = "",
    kind: FormStr = "team",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            made = groups.create(ctx.uow, name[:400], kind[:16])
    except (Invalid, Conflict) as exc:
        return _groups_page(request, ctx, 422, form={"name": name[:400], "kind": kind[:16]},
                            problems=[_problem(exc, "name")])  # fmt: skip
    return flash.redirect(request, f"/certification/groups/{made.id}",
                          say(request, N_("Group saved.")))  # fmt: skip


def _problem(exc: Invalid | Conflict | NotFound, default: str) -> dict[str, str]:
    return {"field": str(exc.extensions.get("field", default)), "message": exc.detail}


def _group_page(
    request: Request, ctx: PageContext, group_id: uuid.UUID, status: int = 200, **extra: Any
) -> Response:
    view = groups.view(ctx.uow, group_id)
    offset = _offset(request)
    people, total = groups.members_page(ctx.uow, group_id, offset=offset, limit=PAGE)
    values = {
        "page": ctx, "view": view, "group": view.group, "members": people, "total": total,
        "offset": offset, "size": PAGE, "managers": groups.managers(ctx.uow, group_id),
        "required": {p.id for p in groups.required(ctx.uow, group_id)},
        "programs": list(ctx.uow.scalars(select(Program).order_by(Program.name))),
        "kinds": groups.KINDS, "kind_labels": KIND_LABELS, "field_prefix": "g-", **extra,
    }  # fmt: skip
    return render(request, "certification/group.html", values, status=status)


@router.get("/certification/groups/import", response_class=HTMLResponse)
def import_page(
    request: Request, ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE)
) -> Response:
    return render(request, "certification/import.html", {"page": ctx, "report": None})


@router.post("/certification/groups/import", response_class=HTMLResponse)
def import_upload(
    request: Request,
    csrf: FormStr = "",
    content: FormStr = "",
    confirm: FormStr = "",
    file: Annotated[UploadFile | None, File()] = None,
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    """Upload: the report of what the file would do (nothing written), with
    the file carried in the form (base64) to confirm. Confirm: the same
    checks again, then written, all or nothing."""
    check_csrf(ctx, csrf)
    values: dict[str, Any] = {"page": ctx}
    if confirm and content:
        try:
            data = base64.b64decode(content[: membership_csv.MAX_BYTES * 2], validate=True)
        except (binascii.Error, ValueError):
            data = b""
        with _change(ctx.uow):  # run() checks everything before it writes
            report = membership_csv.run(ctx.uow, data, apply=True)
        if report.ok:
            return flash.redirect(request, "/certification/groups", say(request, N_(
                "The memberships were imported.")) + f" ({report.memberships_added})")  # fmt: skip
        return render(request, "certification/import.html", values | {"report": report},
                      status=422)  # fmt: skip
    if file is None or not file.filename:
        return render(request, "certification/import.html", values | {"report": None,
                      "error": say(request, N_("Choose a CSV file.")),
                      "form_anchor": "import-file"}, status=422)  # fmt: skip
    data = file.file.read(membership_csv.MAX_BYTES + 1)
    report = membership_csv.run(ctx.uow, data, apply=False)
    carried = base64.b64encode(data).decode() if report.ok else ""
    return render(request, "certification/import.html",
                  values | {"report": report, "content": carried, "filename": file.filename[:200]},
                  status=200 if report.ok else 422)  # fmt: skip


@router.get("/certification/groups/{group_id}", response_class=HTMLResponse)
def group_page(
    request: Request, group_id: str, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)
) -> Response:
    return _group_page(request, ctx, _parse_id(group_id, "group"))


@router.post("/certification/groups/{group_id}", response_class=HTMLResponse)
def change_group(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    name: FormStr = "",
    kind: FormStr = "team",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    groups.get(ctx.uow, gid)
    try:
        with _change(ctx.uow):
            groups.change(ctx.uow, gid, name[:400], kind[:16])
    except (Invalid, Conflict) as exc:
        return _group_page(request, ctx, gid, 422, problems=[_problem(exc, "name")])
    return flash.redirect(request, f"/certification/groups/{gid}", say(request, N_("Group saved.")))


@router.post("/certification/groups/{group_id}/delete", response_class=HTMLResponse)
def delete_group(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    with _change(ctx.uow):
        groups.remove(ctx.uow, gid)
    return flash.redirect(request, "/certification/groups", say(request, N_("Group deleted.")))


@router.post("/certification/groups/{group_id}/requirements", response_class=HTMLResponse)
def set_requirements(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    program_ids: FormList = None,
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    groups.get(ctx.uow, gid)
    try:
        if len(program_ids or []) > groups.MAX_REQUIRED:
            raise Invalid(say(request, N_("Choose at most 50 programs.")), field="program_ids")
        ids = [_parse_id(v, "program") for v in program_ids or []]
        with _change(ctx.uow):
            groups.set_required(ctx.uow, gid, ids)
    except (Invalid, Conflict, NotFound) as exc:
        return _group_page(request, ctx, gid, 422, problems=[_problem(exc, "program_ids")])
    return flash.redirect(request, f"/certification/groups/{gid}",
                          say(request, N_("Required programs saved.")))  # fmt: skip


@router.post("/certification/groups/{group_id}/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    email: FormStr = "",
    name: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    """Add a person by email (a new email with a name makes the candidate)."""
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    groups.get(ctx.uow, gid)
    form = {"email": email[:320], "name": name[:200]}
    try:
        with _change(ctx.uow):
            found = candidates.find_by_email(ctx.uow, email.strip()[:320])
            if found is None:
                if not name.strip():
                    raise Invalid(say(request, N_("This email is new: give the person's name.")),
                                  field="name")  # fmt: skip
                try:
                    found = candidates.find_or_create(ctx.uow, name=name[:200], email=email[:320])
                except Invalid as exc:
                    raise Invalid(exc.detail, field="email") from None
            groups.add_member(ctx.uow, gid, found.id)
    except (Invalid, Conflict, NotFound) as exc:
        return _group_page(request, ctx, gid, 422, member_form=form,
                           problems=[_problem(exc, "email")])  # fmt: skip
    return flash.redirect(
        request, f"/certification/groups/{gid}", say(request, N_("Member added."))
    )


@router.post("/certification/groups/{group_id}/members/remove", response_class=HTMLResponse)
def remove_member(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    candidate_id: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    with _change(ctx.uow):
        groups.remove_member(ctx.uow, gid, _parse_id(candidate_id, "person"))
    return flash.redirect(request, f"/certification/groups/{gid}",
                          say(request, N_("Member removed.")))  # fmt: skip


@router.post("/certification/groups/{group_id}/managers", response_class=HTMLResponse)
def add_manager(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    email: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    groups.get(ctx.uow, gid)
    try:
        user = identity.find_by_email(ctx.uow, email.strip()[:320])
        if user is None:
            raise Invalid(say(request, N_("No staff user has this email.")), field="manager_email")
        with _change(ctx.uow):
            groups.add_manager(ctx.uow, gid, user.id)
    except (Invalid, NotFound) as exc:
        return _group_page(request, ctx, gid, 422, manager_email=email[:320],
                           problems=[_problem(exc, "manager_email")])  # fmt: skip
    return flash.redirect(request, f"/certification/groups/{gid}",
                          say(request, N_("Manager added.")))  # fmt: skip


@router.post("/certification/groups/{group_id}/managers/remove", response_class=HTMLResponse)
def remove_manager(
    request: Request,
    group_id: str,
    csrf: FormStr = "",
    user_id: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    gid = _parse_id(group_id, "group")
    with _change(ctx.uow):
        groups.remove_manager(ctx.uow, gid, _parse_id(user_id, "user"))
    return flash.redirect(request, f"/certification/groups/{gid}",
                          say(request, N_("Manager removed.")))  # fmt: skip
