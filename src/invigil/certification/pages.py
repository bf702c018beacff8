"""Staff pages of certification: the landing page (``/certification``:
programs, open approval requests, recent certificates), a program's form
(new, and each program with its version history: saving a change makes a
new version and says so), the certificates (filterable, paged) and one
certificate (holder, program and version, dates, state, the results it
rests on, its state history, and forms to suspend, reinstate or revoke
with a reason), and the approval requests (approve, reject with a reason).

Reading needs ``certificate:view``; programs ``certification:manage`` to
change; state changes ``certificate:revoke``; approvals
``certification:approve``. Links to a result only for a viewer who holds
``result:view``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.certification import form as program_form
from invigil.certification import issuance, lifecycle, programs, service
from invigil.certification.definition import parse
from invigil.certification.models import STATES
from invigil.content.models import Exam
from invigil.errors import Conflict, DomainError, Invalid, NotFound
from invigil.i18n import N_
from invigil.identity.grants import actor_user
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.results.listing import INTEGRITY_LABELS as OUTCOME_LABELS
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)

STATE_LABELS = {"issued": N_("issued"), "suspended": N_("suspended"),
                "expired": N_("expired"), "revoked": N_("revoked")}  # fmt: skip
INTEGRITY_LABELS = {"clear": N_("Clear only (never flagged)"),
                    "clear_or_cleared": N_("Clear, or cleared by a reviewer")}  # fmt: skip
# A state change offered on the page -> the state it moves to, its button.
ACTIONS = {"suspend": ("suspended", N_("Suspend")), "reinstate": ("issued", N_("Reinstate")),
           "revoke": ("revoked", N_("Revoke"))}  # fmt: skip


def say(request: Request, message: str) -> str:
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def _now() -> datetime:
    return datetime.now(UTC)


def _exam_titles(ctx: PageContext) -> dict[str, str]:
    """Exam titles by id as a string (as a basis names them)."""
    return {str(i): t for i, t in ctx.uow.session.execute(select(Exam.id, Exam.title))}


@router.get("/certification", response_class=HTMLResponse)
def landing(request: Request, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)) -> Response:
    recent, _ = service.list_certificates(ctx.uow, service.Filters(), None, 10)
    values = {
        "page": ctx, "programs": service.list_programs(ctx.uow),
        "pending": service.pending_count(ctx.uow), "recent": recent,
        "holders": service.holders(ctx.uow, {c.holder_id for c in recent}),
        "names": service.program_names(ctx.uow), "state_labels": STATE_LABELS,
    }  # fmt: skip
    return render(request, "certification/landing.html", values)


def _editor(request: Request, ctx: PageContext, status: int = 200, **extra: Any) -> Response:
    found = extra.get("view")
    others = [v for v in service.list_programs(ctx.uow)
              if found is None or v.program.id != found.program.id]  # fmt: skip
    values = {"page": ctx, "exams": service.published_exams(ctx.uow), "others": others,
              "integrity_labels": INTEGRITY_LABELS, "field_prefix": "p-",
              "form": program_form.form_of(found.definition if found else None),
              **extra}  # fmt: skip
    return render(request, "certification/program.html", values, status=status)


async def _form(request: Request) -> dict[str, Any]:
    data = await request.form()
    return {k: data.getlist(k) if k in program_form.LISTS else data.get(k) for k in data}


def _problem(exc: DomainError) -> dict[str, str]:
    field = str(exc.extensions.get("field", "name")).split(".")[0]
    return {"field": field, "message": exc.detail}


@router.get("/certification/programs/new", response_class=HTMLResponse)
def new_program_page(
    request: Request, ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE)
) -> Response:
    return _editor(request, ctx)


@router.post("/certification/programs/new", response_class=HTMLResponse)
async def create_program(
    request: Request, ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE)
) -> Response:
    form = await _form(request)
    check_csrf(ctx, str(form.get("csrf") or ""))
    try:
        definition = parse(program_form.values(form))
        with _change(ctx.uow):
            service.check_definition(ctx.uow, definition)
            made, _ = programs.create(ctx.uow, str(form.get("name") or ""), definition,
                                      actor_user(ctx.uow))  # fmt: skip
    except (Invalid, Conflict) as exc:
        return _editor(request, ctx, 422, form=form, problems=[_problem(exc)])
    return flash.redirect(request, f"/certification/programs/{made.id}",
                          say(request, N_("Program saved as version 1.")))  # fmt: skip


@router.get("/certification/programs/{program_id}", response_class=HTMLResponse)
def program_page(
    request: Request, program_id: str, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)
) -> Response:
    return _editor(request, ctx, view=service.program(ctx.uow, _parse_id(program_id, "program")))


@router.post("/certification/programs/{program_id}", response_class=HTMLResponse)
async def revise_program(
    request: Request, program_id: str, ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE)
) -> Response:
    form = await _form(request)
    check_csrf(ctx, str(form.get("csrf") or ""))
    view = service.program(ctx.uow, _parse_id(program_id, "program"))
    try:
        definition = parse(program_form.values(form))
        with _change(ctx.uow):
            service.check_definition(ctx.uow, definition, view.program.id)
            made = programs.revise(ctx.uow, view.program.id, definition, actor_user(ctx.uow))
    except (Invalid, Conflict) as exc:
        return _editor(request, ctx, 422, view=view, form=form, problems=[_problem(exc)])
    if made.id == view.current.id:
        text = say(request, N_("Nothing changed: still version %(n)s.")) % {"n": made.version}
    else:
        text = say(request, N_("Saved as version %(n)s. Certificates keep the version they "
                               "were issued under.")) % {"n": made.version}  # fmt: skip
    return flash.redirect(request, f"/certification/programs/{view.program.id}", text)


@router.post("/certification/programs/{program_id}/archive", response_class=HTMLResponse)
def archive_program(
    request: Request,
    program_id: str,
    csrf: FormStr = "",
    archived: FormStr = "1",
    ctx: PageContext = requires_page(P.CERTIFICATION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    found = issuance.archive(ctx.uow, _parse_id(program_id, "program"), archived == "1")
    text = N_("Program archived: nothing more is issued under it.") if found.archived else N_(
        "Program restored.")  # fmt: skip
    return flash.redirect(request, f"/certification/programs/{found.id}", say(request, text))


def _optional_id(value: str | None, what: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid(f"{what}: not an id", field=what) from None


@router.get("/certification/certificates", response_class=HTMLResponse)
def certificates_page(
    request: Request, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)
) -> Response:
    q = request.query_params
    state = q.get("state") or None
    problems = []
    try:
        if state is not None and state not in STATES:
            raise Invalid(N_("Choose a state from the list."), field="state")
        filters = service.Filters(_optional_id(q.get("program"), "program"),
                                  _optional_id(q.get("holder"), "holder"), state)  # fmt: skip
        rows, nxt = service.list_certificates(ctx.uow, filters, (q.get("cursor") or None), 50)
    except Invalid as exc:
        problems, filters, rows, nxt = [_problem(exc)], service.Filters(), [], None
    values = {
        "page": ctx, "rows": rows, "next": nxt, "filters": filters, "states": STATES,
        "state_labels": STATE_LABELS, "programs": service.list_programs(ctx.uow),
        "names": service.program_names(ctx.uow), "field_prefix": "f-", "problems": problems,
        "holders": service.holders(ctx.uow, {c.holder_id for c in rows}),
    }  # fmt: skip
    return render(request, "certification/certificates.html", values,
                  status=422 if problems else 200)  # fmt: skip


@router.get("/certification/certificates/{certificate_id}", response_class=HTMLResponse)
def certificate_page(
    request: Request, certificate_id: str, ctx: PageContext = requires_page(P.CERTIFICATE_VIEW)
) -> Response:
    cert = service.certificate(ctx.uow, _parse_id(certificate_id, "certificate"))
    return _certificate(request, ctx, cert)


def _certificate(request: Request, ctx: PageContext, cert: Any, status: int = 200,
                 **extra: Any) -> Response:  # fmt: skip
    version = service.version_numbers(ctx.uow, {cert.program_version_id})[cert.program_version_id]
    values = {
        "page": ctx, "cert": cert, "version": version,
        "holder": service.holder(ctx.uow, cert.holder_id),
        "program": programs.get(ctx.uow, cert.program_id),
        "history": lifecycle.history(ctx.uow, cert.id), "titles": _exam_titles(ctx),
        "state_labels": STATE_LABELS, "field_prefix": "s-", "outcomes": OUTCOME_LABELS,
        "actions": [(a, label) for a, (to, label) in ACTIONS.items()
                    if to in lifecycle.MOVES.get(cert.state, ())],
        **extra,
    }  # fmt: skip
    return render(request, "certification/certificate.html", values, status=status)


@router.post("/certification/certificates/{certificate_id}/state", response_class=HTMLResponse)
def change_state(
    request: Request,
    certificate_id: str,
    csrf: FormStr = "",
    action: FormStr = "",
    reason: FormStr = "",
    seq: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATE_REVOKE),
) -> Response:
    check_csrf(ctx, csrf)
    cert = service.certificate(ctx.uow, _parse_id(certificate_id, "certificate"))
    try:
        if action not in ACTIONS:
            raise Invalid(N_("Choose what to do."), field="action")
        expect = int(seq) if seq.isdigit() and len(seq) < 8 else None
        with _change(ctx.uow):
            lifecycle.change_state(
                ctx.uow, cert.id, ACTIONS[action][0], reason[:2000],
                now=_now(), by=actor_user(ctx.uow), expect_seq=expect,
            )  # fmt: skip
    except (Invalid, Conflict) as exc:
        ctx.uow.session.refresh(cert)
        return _certificate(request, ctx, cert, 422, problems=[_problem(exc)],
                            form={"action": action, "reason": reason[:2000]})  # fmt: skip
    done = {"suspend": N_("Certificate suspended."), "reinstate": N_("Certificate reinstated."),
            "revoke": N_("Certificate revoked.")}[action]  # fmt: skip
    return flash.redirect(request, f"/certification/certificates/{cert.id}", say(request, done))


def _approvals(request: Request, ctx: PageContext, status: int = 200, **extra: Any) -> Response:
    rows = service.approvals(ctx.uow, "pending")
    decided = service.approvals(ctx.uow, None, 50)
    values = {
        "page": ctx, "rows": rows, "decided": [d for d in decided if d.status != "pending"],
        "holders": service.holders(ctx.uow, {r.holder_id for r in decided}),
        "names": service.program_names(ctx.uow), "titles": _exam_titles(ctx),
        "versions": service.version_numbers(ctx.uow, {r.program_version_id for r in decided}),
        "field_prefix": "a-", "outcomes": OUTCOME_LABELS, **extra,
    }  # fmt: skip
    return render(request, "certification/approvals.html", values, status=status)


@router.get("/certification/approvals", response_class=HTMLResponse)
def approvals_page(
    request: Request, ctx: PageContext = requires_page(P.CERTIFICATION_APPROVE)
) -> Response:
    return _approvals(request, ctx)


@router.post("/certification/approvals/{approval_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    approval_id: str,
    csrf: FormStr = "",
    decision: FormStr = "",
    reason: FormStr = "",
    ctx: PageContext = requires_page(P.CERTIFICATION_APPROVE),
) -> Response:
    check_csrf(ctx, csrf)
    row = service.approval(ctx.uow, _parse_id(approval_id, "approval request"))
    by = actor_user(ctx.uow)
    if by is None:
        raise NotFound("no such approval request")
    try:
        with _change(ctx.uow):
            if decision == "approve":
                cert = issuance.approve(ctx.uow, row.id, by, _now())
            elif decision == "reject":
                issuance.reject(ctx.uow, row.id, by, reason[:2000], _now())
            else:
                raise Invalid(N_("Choose approve or reject."), field="decision")
    except (Invalid, Conflict) as exc:
        problem = _problem(exc)
        problem["field"] = f"reason-{row.id}"
        return _approvals(request, ctx, 422, problems=[problem])
    if decision == "approve":
        text = say(request, N_("Approved: certificate %(number)s issued.")) % {
            "number": cert.number}  # fmt: skip
        return flash.redirect(request, f"/certification/certificates/{cert.id}", text)
    done = say(request, N_("Request rejected."))
    return flash.redirect(request, "/certification/approvals", done)
