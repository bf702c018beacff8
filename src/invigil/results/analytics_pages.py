"""Staff pages of analytics: an exam's cohort and item analysis
(``/exams/{exam_id}/analytics``) and one question across the exams that
used it (``/questions/{question_id}/analysis``). Both need ``result:view``
and show no candidate: the figures are the cohort's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select, text

from invigil import i18n
from invigil.content import questions
from invigil.content.models import Exam, Question
from invigil.content.pages.common import TYPE_LABELS
from invigil.db.uow import UnitOfWork
from invigil.delivery.voids import NOT_VOIDED
from invigil.i18n import N_
from invigil.identity.pages.common import _parse_id
from invigil.results import analytics, item_analysis
from invigil.security.permissions import Permission as P
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)

STAGE_LABELS = {
    "invited": N_("Invited"),
    "opened": N_("Opened the link"),
    "started": N_("Started"),
    "submitted": N_("Submitted"),
    "graded": N_("Graded"),
    "released": N_("Results released"),
}
FLAG_LABELS = {
    "negative": N_("Negative discrimination"),
    "extreme": N_("Extreme facility"),
}
# The item table's columns that sort: the figure each sorts by (None last).
SORTS = {
    "order": "position",
    "n": "n",
    "facility": "facility",
    "discrimination": "discrimination",
    "upper_lower": "upper_lower",
    "median_time": "median_time_ms",
    "flags": "flag_count",
}


def _prompts(uow: UnitOfWork, ids: list[str]) -> dict[str, str]:
    """Each question's prompt (its current version's), for the tables."""
    if not ids:
        return {}
    rows = uow.session.execute(
        text("""
            SELECT q.id::text, qv.body->>'prompt'
              FROM questions q
              JOIN question_versions qv
                ON qv.tenant_id = q.tenant_id AND qv.question_id = q.id
               AND qv.version = q.current_version
             WHERE q.id = ANY(CAST(:ids AS uuid[]))
        """),
        {"ids": ids},
    )
    return {qid: prompt or "" for qid, prompt in rows}


def _sorted(items: list[dict[str, Any]], sort: str, desc: bool) -> list[dict[str, Any]]:
    field = SORTS.get(sort, "position")
    known = [i for i in items if i[field] is not None]
    unknown = [i for i in items if i[field] is None]
    return sorted(known, key=lambda i: i[field], reverse=desc) + unknown


def _chart_values(values: list[float | None]) -> list[int]:
    """Whole numbers for a chart and its table (the same in every language)."""
    return [round(v) if v is not None else 0 for v in values]


@router.get("/exams/{exam_id}/analytics", response_class=HTMLResponse)
def exam_analytics_page(
    request: Request,
    exam_id: str,
    sort: str = Query("order", max_length=20),
    order: str = Query("asc", max_length=4),
    ctx: PageContext = requires_page(P.RESULT_VIEW),
) -> HTMLResponse:
    exam = ctx.uow.get(Exam, _parse_id(exam_id, "exam"), label="exam")
    found = analytics.exam_analytics(ctx.uow, exam.id)
    prompts = _prompts(ctx.uow, [i["question_id"] for i in found.items])
    items = [
        {
            **i,
            "position": n,
            "flag_count": len(i["flags"]),
            "prompt": prompts.get(i["question_id"], ""),
        }
        for n, i in enumerate(sorted(found.items, key=lambda i: (i["category"], i["question_id"])))
    ]
    sort = sort if sort in SORTS else "order"
    desc = order == "desc"
    funnel = [s for s in found.funnel if s["count"] is not None]
    locale = i18n.locale_of({"request": request})
    return render(
        request,
        "results/analytics.html",
        {
            "page": ctx,
            "exam": exam,
            "a": found,
            "items": _sorted(items, sort, desc),
            "sort": sort,
            "desc": desc,
            "funnel": funnel,
            "funnel_labels": [i18n.gettext(locale, STAGE_LABELS[s["stage"]]) for s in funnel],
            "flag_labels": FLAG_LABELS,
            "type_labels": TYPE_LABELS,
            "min_n": item_analysis.MIN_N,
            "histogram_labels": [
                f"{b['from']}\u2013{b['to'] if b['to'] == 100 else b['to'] - 1}"
                for b in found.histogram
            ],
            "histogram_counts": [b["count"] for b in found.histogram],
            "category_percents": _chart_values([c["mean_percent"] for c in found.categories]),
        },
    )


# The exams a question was answered in: from the result cells' question index.
_EXAMS_OF_QUESTION = text(f"""
SELECT DISTINCT c.exam_id
  FROM result_cells c
  JOIN attempts a ON a.tenant_id = c.tenant_id AND a.id = c.attempt_id
 WHERE c.question_id = :question AND a.status = 'submitted' AND {NOT_VOIDED}
""")


@router.get("/questions/{question_id}/analysis", response_class=HTMLResponse)
def question_analysis_page(
    request: Request, question_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)
) -> HTMLResponse:
    question = ctx.uow.get(Question, _parse_id(question_id, "question"), label="question")
    current = questions.current(ctx.uow, question)
    exam_ids = list(ctx.uow.session.scalars(_EXAMS_OF_QUESTION, {"question": question.id}))
    exams = {e.id: e for e in ctx.uow.scalars(select(Exam).where(Exam.id.in_(exam_ids)))}
    per_exam = []
    for exam_id in sorted(exam_ids, key=lambda e: exams[e].title if e in exams else ""):
        found = analytics.exam_analytics(ctx.uow, exam_id)
        item = next((i for i in found.items if i["question_id"] == str(question.id)), None)
        if item is not None and exam_id in exams:
            per_exam.append({"exam": exams[exam_id], "item": item})
    return render(
        request,
        "results/question_analysis.html",
        {
            "page": ctx,
            "question": question,
            "prompt": current.body.get("prompt", ""),
            "per_exam": per_exam,
            "flag_labels": FLAG_LABELS,
            "type_labels": TYPE_LABELS,
            "min_n": item_analysis.MIN_N,
        },
    )
