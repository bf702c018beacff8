"""Staff pages of the shortlists: the runs (``/shortlists``), positions,
rule sets with their editor (validated on the server, each error naming its
field), "run a shortlist", one run with its ranked entries and their
reasons, the excluded with the first rule they failed, each entry's stage
and a form to move it, checkboxes to compare 2 to 4 candidates
(``/results/compare?attempt=...``), and the run's CSV and XLSX.

Reading needs ``shortlist:view``, changing ``shortlist:run``, moving
``shortlist:stage``. Names need ``candidate:view`` (else pseudonyms); a
link to a candidate's integrity review (where the evidence is) only for a
viewer who holds ``evidence:view``: a shortlister reads outcomes, not evidence.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.content.models import Exam
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, DomainError, Invalid
from invigil.i18n import N_
from invigil.identity.pages.common import FormList, FormStr, _change, _parse_id
from invigil.results.listing import INTEGRITY_LABELS
from invigil.results.pseudonyms import code_of
from invigil.security.permissions import Permission as P
from invigil.shortlists import exports, service, stages
from invigil.shortlists.form import MAX_LINES, rules_form, rules_values
from invigil.shortlists.rules import INTEGRITY
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


def say(request: Request, message: str) -> str:
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def _exams(ctx: PageContext) -> list[Exam]:
    return ctx.uow.scalars(select(Exam).order_by(Exam.title))


@router.get("/shortlists", response_class=HTMLResponse)
def runs_page(request: Request, ctx: PageContext = requires_page(P.SHORTLIST_VIEW)) -> Response:
    runs = service.list_runs(ctx.uow)
    names = {r.id: r.name for r, _ in service.list_rule_sets(ctx.uow)}
    versions = {v.id: v for r in names for v in service.versions(ctx.uow, r)}
    return render(request, "shortlists/runs.html",
                  {"page": ctx, "runs": runs, "names": names, "versions": versions})  # fmt: skip


def _positions_page(
    request: Request, ctx: PageContext, status: int = 200, **extra: Any
) -> Response:
    values = {"page": ctx, "positions": service.list_positions(ctx.uow), "exams": _exams(ctx),
              "stages": stages.configured(ctx.uow), "field_prefix": "p-", **extra}  # fmt: skip
    return render(request, "shortlists/positions.html", values, status=status)


@router.get("/shortlists/positions", response_class=HTMLResponse)
def positions_page(
    request: Request, ctx: PageContext = requires_page(P.SHORTLIST_VIEW)
) -> Response:
    return _positions_page(request, ctx)


@router.post("/shortlists/positions", response_class=HTMLResponse)
def create_position(
    request: Request,
    csrf: FormStr = "",
    name: FormStr = "",
    description: FormStr = "",
    exam_ids: FormList = None,
    ctx: PageContext = requires_page(P.SHORTLIST_RUN),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"name": name, "description": description, "exam_ids": exam_ids or []}
    try:
        if len(exam_ids or []) > service.MAX_EXAMS:
            raise Invalid(say(request, N_("Choose 1 to 50 exams.")), field="exam_ids")
        ids = [_parse_id(v, "exam") for v in exam_ids or []]
        with _change(ctx.uow):
            service.save_position(ctx.uow, name, description, ids)
    except (Invalid, Conflict) as exc:
        field = exc.extensions.get("field", "name")
        return _positions_page(request, ctx, 422, form=form,
                               problems=[{"field": field, "message": exc.detail}])  # fmt: skip
    return flash.redirect(request, "/shortlists/positions", say(request, N_("Position saved.")))


@router.get("/shortlists/rule-sets", response_class=HTMLResponse)
def rule_sets_page(
    request: Request, ctx: PageContext = requires_page(P.SHORTLIST_VIEW)
) -> Response:
    return render(request, "shortlists/rule_sets.html",
                  {"page": ctx, "rule_sets": service.list_rule_sets(ctx.uow)})  # fmt: skip


def _editor(request: Request, ctx: PageContext, status: int = 200, **extra: Any) -> Response:
    values = {"page": ctx, "positions": service.list_positions(ctx.uow), "integrity": INTEGRITY,
              "integrity_labels": INTEGRITY_LABELS, "field_prefix": "r-",
              "form": rules_form(None), "max_lines": MAX_LINES, **extra}  # fmt: skip
    return render(request, "shortlists/rule_set.html", values, status=status)


@router.get("/shortlists/rule-sets/new", response_class=HTMLResponse)
def new_rule_set_page(
    request: Request, ctx: PageContext = requires_page(P.SHORTLIST_RUN)
) -> Response:
    return _editor(request, ctx)


async def _form(request: Request) -> dict[str, Any]:
    data = await request.form()
    return {k: data.getlist(k) if k == "integrity_allowed" else data.get(k) for k in data}


@router.post("/shortlists/rule-sets", response_class=HTMLResponse)
async def create_rule_set(
    request: Request, ctx: PageContext = requires_page(P.SHORTLIST_RUN)
) -> Response:
    form = await _form(request)
    check_csrf(ctx, str(form.get("csrf") or ""))
    try:
        position = str(form.get("position_id") or "")
        position_id = _parse_id(position, "position") if position else None
        with _change(ctx.uow):
            made, _ = service.create_rule_set(
                ctx.uow, str(form.get("name") or ""), rules_values(form), position_id
            )
    except (Invalid, Conflict) as exc:
        return _editor(request, ctx, 422, form=form, problems=[_problem(exc)])
    return flash.redirect(request, f"/shortlists/rule-sets/{made.id}",
                          say(request, N_("Rule set saved as version 1.")))  # fmt: skip


def _problem(exc: DomainError) -> dict[str, str]:
    field = str(exc.extensions.get("field", "name")).removeprefix("rules.").split(".")[0]
    return {"field": field, "message": exc.detail}


@router.get("/shortlists/rule-sets/{rule_set_id}", response_class=HTMLResponse)
def rule_set_page(
    request: Request, rule_set_id: str, ctx: PageContext = requires_page(P.SHORTLIST_VIEW)
) -> Response:
    found = service.require_rule_set(ctx.uow, _parse_id(rule_set_id, "rule set"))
    latest = service.latest_version(ctx.uow, found.id)
    return _editor(request, ctx, rule_set=found, versions=service.versions(ctx.uow, found.id),
                   form=rules_form(latest.rules))  # fmt: skip


@router.post("/shortlists/rule-sets/{rule_set_id}", response_class=HTMLResponse)
async def add_version(
    request: Request, rule_set_id: str, ctx: PageContext = requires_page(P.SHORTLIST_RUN)
) -> Response:
    form = await _form(request)
    check_csrf(ctx, str(form.get("csrf") or ""))
    found = service.require_rule_set(ctx.uow, _parse_id(rule_set_id, "rule set"))
    try:
        with _change(ctx.uow):
            made = service.add_version(ctx.uow, found.id, rules_values(form))
    except Invalid as exc:
        return _editor(request, ctx, 422, rule_set=found, form=form, problems=[_problem(exc)],
                       versions=service.versions(ctx.uow, found.id))  # fmt: skip
    text = say(request, N_("Saved as version %(n)s.")) % {"n": made.version}
    return flash.redirect(request, f"/shortlists/rule-sets/{found.id}", text)


def _new_page(request: Request, ctx: PageContext, status: int = 200, **extra: Any) -> Response:
    values = {"page": ctx, "rule_sets": service.list_rule_sets(ctx.uow), "exams": _exams(ctx),
              "positions": service.list_positions(ctx.uow), "field_prefix": "n-",
              "form": {}, **extra}  # fmt: skip
    return render(request, "shortlists/new.html", values, status=status)


@router.get("/shortlists/new", response_class=HTMLResponse)
def new_run_page(request: Request, ctx: PageContext = requires_page(P.SHORTLIST_RUN)) -> Response:
    return _new_page(request, ctx)


@router.post("/shortlists/new", response_class=HTMLResponse)
def create_run(
    request: Request,
    csrf: FormStr = "",
    rule_set_id: FormStr = "",
    cohort: FormStr = "",
    exam_ids: FormList = None,
    ctx: PageContext = requires_page(P.SHORTLIST_RUN),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"rule_set_id": rule_set_id, "cohort": cohort, "exam_ids": exam_ids or []}
    try:
        if not rule_set_id:
            raise Invalid(say(request, N_("Choose a rule set.")), field="rule_set_id")
        rid = _parse_id(rule_set_id, "rule set")
        position_id = None
        ids: list[uuid.UUID] = []
        if cohort.startswith("position:"):
            position_id = _parse_id(cohort.removeprefix("position:"), "position")
        else:
            if len(exam_ids or []) > service.MAX_EXAMS:
                raise Invalid(say(request, N_("Choose 1 to 50 exams.")), field="exam_ids")
            ids = [_parse_id(v, "exam") for v in exam_ids or []]
            if not ids:
                raise Invalid(say(request, N_("Choose a position or at least one exam.")),
                              field="cohort")  # fmt: skip
        with _change(ctx.uow):
            run = service.create_run(ctx.uow, rid, position_id=position_id, exam_ids=ids)
    except (Invalid, Conflict) as exc:
        field = str(exc.extensions.get("field", "cohort"))
        return _new_page(request, ctx, 422, form=form,
                         problems=[{"field": field, "message": exc.detail}])  # fmt: skip
    return flash.redirect(request, f"/shortlists/{run.id}", say(request, N_("Shortlist ready.")))


@router.get("/shortlists/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request, run_id: str, ctx: PageContext = requires_page(P.SHORTLIST_VIEW)
) -> Response:
    found = service.view(ctx.uow, _parse_id(run_id, "shortlist"))
    everyone = [*found.ranked, *found.excluded]
    identities = ctx.can(P.CANDIDATE_VIEW)
    names = {}
    if identities and everyone:
        names = dict(ctx.uow.session.execute(select(Candidate.id, Candidate.name).where(
            Candidate.id.in_({e.candidate_id for e in everyone}))).all())  # fmt: skip
    titles = dict(ctx.uow.session.execute(select(Exam.id, Exam.title).where(
        Exam.id.in_([uuid.UUID(i) for i in found.run.exam_ids]))).all())  # fmt: skip
    locale = i18n.locale_of({"request": request})
    who = {e.attempt_id: names.get(e.candidate_id) or
           i18n.gettext(locale, N_("Candidate %(code)s")) % {"code": code_of(e.attempt_id)}
           for e in everyone}  # fmt: skip
    values = {
        "page": ctx, "found": found, "who": who, "titles": titles,
        "configured": stages.configured(ctx.uow), "stage_labels": stages.LABELS,
        "integrity_labels": INTEGRITY_LABELS, "evidence": ctx.can(P.EVIDENCE_VIEW),
        "exports": exports.FORMATS,
    }  # fmt: skip
    return render(request, "shortlists/run.html", values)


@router.get("/shortlists/{run_id}/export")
def export(
    request: Request, run_id: str, ctx: PageContext = requires_page(P.SHORTLIST_VIEW)
) -> Response:
    fmt = request.query_params.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Invalid("export as format=csv or format=xlsx", field="format")
    found = service.view(ctx.uow, _parse_id(run_id, "shortlist"))
    return exports.response(ctx.uow, fmt, found, identities=ctx.can(P.CANDIDATE_VIEW))


@router.post("/shortlists/{run_id}/entries/{attempt_id}/stage", response_class=HTMLResponse)
def move(
    request: Request,
    run_id: str,
    attempt_id: str,
    csrf: FormStr = "",
    stage: FormStr = "",
    note: FormStr = "",
    ctx: PageContext = requires_page(P.SHORTLIST_STAGE),
) -> Response:
    check_csrf(ctx, csrf)
    rid = _parse_id(run_id, "shortlist")
    aid = _parse_id(attempt_id, "attempt")
    service.require_run(ctx.uow, rid)
    try:
        with _change(ctx.uow):
            stages.move(ctx.uow, rid, aid, stage, note)
    except (Invalid, Conflict) as exc:
        return flash.redirect(request, f"/shortlists/{rid}#entry-{aid}", exc.detail)
    return flash.redirect(request, f"/shortlists/{rid}#entry-{aid}",
                          say(request, N_("Stage changed.")))  # fmt: skip
