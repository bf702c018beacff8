"""Staff pages on results: one attempt's result in full, and the printed
reports (per attempt and per exam). Each route declares ``result:view``;
names and emails follow the one identity rule (``candidate:view``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from invigil import i18n
from invigil.content.pages.common import TYPE_LABELS
from invigil.identity.pages.common import _parse_id
from invigil.results import attempt_result, exam_report, reports
from invigil.security.permissions import Permission as P
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)


def _view(ctx: PageContext, attempt_id: str) -> attempt_result.AttemptResultView:
    return attempt_result.build(
        ctx.uow, _parse_id(attempt_id, "attempt"), with_identity=ctx.can(P.CANDIDATE_VIEW)
    )


@router.get("/attempts/{attempt_id}/result", response_class=HTMLResponse)
def result_page(
    request: Request, attempt_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)
) -> HTMLResponse:
    view = _view(ctx, attempt_id)
    values: dict[str, Any] = {"page": ctx, "r": view, "type_labels": TYPE_LABELS}
    return render(request, "results/attempt_result.html", values)


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("/attempts/{attempt_id}/report.pdf")
def attempt_report(
    request: Request, attempt_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)
) -> Response:
    view = _view(ctx, attempt_id)
    locale = i18n.locale_of({"request": request})
    data = reports.attempt_pdf(ctx.uow, view, locale, now=datetime.now(UTC))
    return _pdf(data, f"result-{view.attempt.id}.pdf")


@router.get("/exams/{exam_id}/report.pdf")
def exam_report_pdf(
    request: Request, exam_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)
) -> Response:
    cohort = exam_report.build(ctx.uow, _parse_id(exam_id, "exam"))
    locale = i18n.locale_of({"request": request})
    data = reports.exam_pdf(ctx.uow, cohort, locale, now=datetime.now(UTC))
    return _pdf(data, f"exam-report-{uuid.UUID(str(cohort.exam_id))}.pdf")
