"""An exam's analytics: what its cohort scored, how far its candidates got,
and how each question worked.

Every figure about scores comes from the latest result revision of each
submitted attempt (:data:`invigil.results.item_analysis.LATEST`); scores,
the histogram, the pass rate, categories and the item analysis count only
attempts whose result needs no more grading, so no partial total is ever
averaged. Those figures are cached per exam (``analytics_cache``) together
with what they cover: the number of result rows of the exam's submitted
attempts and the newest one's time. Results are append-only, so a new
result (a submission, a grader's revision) changes one of the two, and the
next reader computes afresh. The funnel counts invitations, consents and
attempts, which change without a result, so it is read live (a handful of
indexed counts).

No figure here names a candidate: analytics is about the cohort and the
questions (docs/analytics.md says what each figure means).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.voids import NOT_VOIDED
from invigil.results import item_analysis
from invigil.results.item_analysis import LATEST

FORMAT = 1  # bump when the cached figures change shape or meaning
BIN_WIDTH = 10  # percentage points per histogram bar: 0-9, 10-19, ..., 90-100

_MARKER = text(f"""
SELECT count(*) AS results, max(r.created_at) AS newest
  FROM attempts a
  JOIN attempt_results r ON r.tenant_id = a.tenant_id AND r.attempt_id = a.id
 WHERE a.exam_id = :exam AND a.status = 'submitted' AND {NOT_VOIDED}
""")

_SUMMARY = text(f"""
WITH latest AS ({LATEST})
SELECT count(*) AS submitted,
       count(*) FILTER (WHERE NOT l.needs_grading) AS graded,
       count(*) FILTER (WHERE l.passed IS NOT NULL) AS with_outcome,
       count(*) FILTER (WHERE l.passed) AS passed,
       avg(l.percent) FILTER (WHERE NOT l.needs_grading)::float8 AS mean_percent,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY l.percent)
           FILTER (WHERE NOT l.needs_grading) AS median_percent,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM a.submitted_at - a.started_at) * 1000)
           AS median_duration_ms
  FROM latest l
  JOIN attempts a ON a.id = l.attempt_id
""")

_HISTOGRAM = text(f"""
WITH latest AS ({LATEST})
SELECT least(floor(percent / {BIN_WIDTH})::int, {100 // BIN_WIDTH - 1}) AS bin, count(*)
  FROM latest WHERE NOT needs_grading
 GROUP BY 1
""")

# Per invitation of the exam: how far its candidate got. "Opened" is the
# first thing a candidate's link records: a consent given or declined (the
# landing page's GET records nothing, so that mail scanners that prefetch
# links count for nothing).
_FUNNEL = text("""
WITH invited AS (
    SELECT id FROM invitations WHERE exam_id = :exam
),
opened AS (
    SELECT DISTINCT c.invitation_id FROM consents c JOIN invited i ON i.id = c.invitation_id
),
reached AS (
    SELECT a.invitation_id,
           bool_or(a.started_at IS NOT NULL) AS started,
           bool_or(a.status = 'submitted') AS submitted,
           bool_or(a.status = 'submitted' AND NOT coalesce(last.needs_grading, true)) AS graded,
           bool_or(EXISTS (SELECT 1 FROM result_releases x
                            WHERE x.tenant_id = a.tenant_id AND x.attempt_id = a.id)) AS released
      FROM attempts a
      LEFT JOIN LATERAL (
          SELECT r.needs_grading FROM attempt_results r
           WHERE r.tenant_id = a.tenant_id AND r.attempt_id = a.id
           ORDER BY r.revision DESC LIMIT 1) last ON true
     WHERE a.exam_id = :exam
     GROUP BY a.invitation_id
)
SELECT count(*) AS invited,
       count(o.invitation_id) AS opened,
       count(*) FILTER (WHERE r.started) AS started,
       count(*) FILTER (WHERE r.submitted) AS submitted,
       count(*) FILTER (WHERE r.graded) AS graded,
       count(*) FILTER (WHERE r.released) AS released
  FROM invited i
  LEFT JOIN opened o ON o.invitation_id = i.id
  LEFT JOIN reached r ON r.invitation_id = i.id
""")

FUNNEL_STAGES = ("invited", "opened", "started", "submitted", "graded", "released")

_UPSERT = text("""
INSERT INTO analytics_cache (tenant_id, id, exam_id, format, results, newest_result_at,
                             figures, computed_at)
VALUES (:tenant, :id, :exam, :format, :results, :newest, CAST(:figures AS jsonb), :at)
ON CONFLICT (tenant_id, exam_id) DO UPDATE
   SET format = EXCLUDED.format, results = EXCLUDED.results,
       newest_result_at = EXCLUDED.newest_result_at, figures = EXCLUDED.figures,
       computed_at = EXCLUDED.computed_at
""")

_CACHED = text("""
SELECT format, results, newest_result_at, figures, computed_at
  FROM analytics_cache WHERE exam_id = :exam
""")


@dataclass
class ExamAnalytics:
    exam_id: uuid.UUID
    summary: dict[str, Any]
    histogram: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    items: list[dict[str, Any]]
    funnel: list[dict[str, Any]]
    computed_at: datetime
    cached: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "exam_id": str(self.exam_id),
            "computed_at": self.computed_at.isoformat(),
            "summary": self.summary,
            "histogram": self.histogram,
            "funnel": self.funnel,
            "categories": self.categories,
            "items": self.items,
        }


def exam_analytics(uow: UnitOfWork, exam_id: uuid.UUID) -> ExamAnalytics:
    """The exam's figures: from the cache when no result was recorded since,
    else computed and cached. Another tenant's exam is not found."""
    uow.get(Exam, exam_id, label="exam")
    # The marker is read before the figures: a result recorded in between is
    # in the figures but not the marker, so the next reader computes again.
    marker = uow.session.execute(_MARKER, {"exam": exam_id}).one()
    row = uow.session.execute(_CACHED, {"exam": exam_id}).one_or_none()
    funnel = funnel_of(uow, exam_id)
    if (
        row is not None
        and row.format == FORMAT
        and row.results == marker.results
        and row.newest_result_at == marker.newest
    ):
        figures, at, cached = row.figures, row.computed_at, True
    else:
        figures, at, cached = _compute(uow, exam_id), datetime.now(UTC), False
        uow.session.execute(
            _UPSERT,
            {
                "tenant": uow.tenant,
                "id": uuid.uuid4(),
                "exam": exam_id,
                "format": FORMAT,
                "results": marker.results,
                "newest": marker.newest,
                "figures": json.dumps(figures),
                "at": at,
            },
        )
    return ExamAnalytics(
        exam_id=exam_id,
        summary=figures["summary"],
        histogram=figures["histogram"],
        categories=figures["categories"],
        items=figures["items"],
        funnel=funnel,
        computed_at=at,
        cached=cached,
    )


def funnel_of(uow: UnitOfWork, exam_id: uuid.UUID) -> list[dict[str, Any]]:
    """Invited -> opened -> started -> submitted -> graded -> released
    (a release record exists for one of its attempts), per invitation."""
    row = uow.session.execute(_FUNNEL, {"exam": exam_id}).mappings().one()
    counts: dict[str, int | None] = {k: int(row[k]) for k in FUNNEL_STAGES}
    invited = counts["invited"] or 0
    stages = []
    for stage in FUNNEL_STAGES:
        count = counts[stage]
        share = None if count is None or not invited else count * 100 / invited
        stages.append({"stage": stage, "count": count, "percent_of_invited": share})
    return stages


def _compute(uow: UnitOfWork, exam_id: uuid.UUID) -> dict[str, Any]:
    params = {"exam": exam_id}
    s = uow.session.execute(_SUMMARY, params).mappings().one()
    with_outcome = int(s["with_outcome"])
    summary = {
        "submitted": int(s["submitted"]),
        "graded": int(s["graded"]),
        "pending_grading": int(s["submitted"]) - int(s["graded"]),
        "with_outcome": with_outcome,
        "passed": int(s["passed"]),
        "pass_rate": int(s["passed"]) / with_outcome if with_outcome else None,
        "mean_percent": _f(s["mean_percent"]),
        "median_percent": _f(s["median_percent"]),
        "median_duration_ms": _f(s["median_duration_ms"]),
    }
    bins: dict[int, int] = {int(b): int(n) for b, n in uow.session.execute(_HISTOGRAM, params)}
    histogram = [
        {
            "from": b * BIN_WIDTH,
            "to": 100 if b == 100 // BIN_WIDTH - 1 else (b + 1) * BIN_WIDTH,
            "count": int(bins.get(b, 0)),
        }
        for b in range(100 // BIN_WIDTH)
    ]
    cohort = item_analysis.analyse(uow, exam_id)
    return {
        "summary": summary,
        "histogram": histogram,
        "categories": cohort.categories,
        "items": [i.as_json() for i in cohort.items],
    }


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
