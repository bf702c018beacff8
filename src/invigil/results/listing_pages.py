"""The results page of one exam, ``/exams/{exam_id}/results``: the table of
:mod:`invigil.results.listing` (sort, search, filters, pages both ways) and
its CSV and XLSX exports of exactly the view shown. Needs ``result:view``;
names, emails and the search need ``candidate:view`` too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from invigil.content import exams
from invigil.identity.pages.common import _parse_id
from invigil.results import exports, listing
from invigil.security.permissions import Permission as P
from invigil.web import table
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)


@router.get("/exams/{exam_id}/results", response_class=HTMLResponse)
def results_page(
    request: Request, exam_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)
) -> Response:
    eid = _parse_id(exam_id, "exam")
    exam = exams.require_exam(ctx.uow, eid)  # another tenant's exam: 404, like a missing one
    identities = ctx.can(P.CANDIDATE_VIEW)
    params = {k: v for k, v in request.query_params.items() if k != "format"}
    fmt = request.query_params.get("format", "")
    if fmt and fmt not in exports.FORMATS:
        raise table.BadParameter("format", "export as format=csv or format=xlsx")
    found = listing.results_view(eid, params, identities=identities)
    if fmt:
        db, actor, tenant = request.app.state.db, ctx.uow.actor, ctx.uow.tenant
        return exports.response(
            fmt,
            eid,
            lambda: db.unit_of_work(tenant, actor),
            listing.ordered(found),
            identities=identities,
        )
    shown = table.fetch(ctx.uow, found.view, found.stmt)
    values: dict[str, Any] = {
        "page": ctx,
        "exam": exam,
        "t": shown.with_rows([listing.row(v) for v in shown.rows]),
        "identities": identities,
        "export_href": {f: found.view.href(format=f, cursor=None) for f in exports.FORMATS},
        "status_labels": listing.STATUS_LABELS,
        "integrity_labels": listing.INTEGRITY_LABELS,
        "grading_labels": listing.GRADING_LABELS,
    }
    return render(request, "results/results.html", values)
