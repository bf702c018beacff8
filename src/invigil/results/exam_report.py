"""One exam's cohort in figures, for the printed exam report.

Every figure is aggregated by the database over the latest result of each
submitted attempt (its newest revision, found through the result index):
a cohort of ten thousand attempts costs a few queries and a few rows in
Python, never ten thousand documents. Percentages compare what the result
documents say (raw points over the paper's maximum).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.voids import NOT_VOIDED
from invigil.errors import NotFound

BINS = 10  # score distribution: 0-10 %, 10-20 %, ..., 90-100 % (100 % in the last)


@dataclass(frozen=True)
class VersionCount:
    version: int
    content_hash: str
    attempts: int


@dataclass(frozen=True)
class Bin:
    low: int  # percent, inclusive
    high: int  # percent, exclusive except for the last bin
    count: int


@dataclass(frozen=True)
class CategoryFigures:
    name: str
    attempts: int
    awarded: Decimal
    max: Decimal
    pending: int  # attempts whose category still waits for a grader

    @property
    def percent(self) -> Decimal | None:
        if self.max <= 0:
            return None
        return (self.awarded * 100 / self.max).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ExamCohort:
    exam_id: uuid.UUID
    title: str
    slug: str
    started: int  # attempts begun (any status)
    submitted: int
    scored: int  # submitted attempts with a result
    passed: int
    failed: int
    pending: int  # waiting for a grader: no pass or fail yet
    mean_percent: Decimal | None
    median_percent: Decimal | None
    median_duration_ms: float | None
    versions: list[VersionCount]
    bins: list[Bin]
    categories: list[CategoryFigures]

    @property
    def pass_rate(self) -> Decimal | None:
        decided = self.passed + self.failed
        if not decided:
            return None
        return (Decimal(self.passed) * 100 / decided).quantize(Decimal("0.01"))


# One pass over the latest result of every submitted attempt: each document
# is read once, for the few fields the figures need; the totals, the bins
# and the categories are aggregated from that.
_FIGURES = text(
    f"""
    WITH latest AS MATERIALIZED (
      SELECT r.* FROM attempts a
      JOIN LATERAL (
        SELECT r.percent, r.passed, r.needs_grading,
               (r.document->>'duration_ms')::bigint AS duration_ms,
               r.document->'categories' AS categories
        FROM attempt_results r
        WHERE r.tenant_id = a.tenant_id AND r.attempt_id = a.id
        ORDER BY r.revision DESC LIMIT 1
      ) r ON true
      WHERE a.exam_id = :exam AND a.status = 'submitted' AND {NOT_VOIDED}
    )
    SELECT 'totals', NULL, count(*),
           count(*) FILTER (WHERE passed IS TRUE),
           count(*) FILTER (WHERE passed IS FALSE),
           count(*) FILTER (WHERE needs_grading),
           avg(percent),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY percent),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
    FROM latest
    UNION ALL
    SELECT 'bin', least(width_bucket(percent, 0, 100, :bins), :bins)::text, count(*),
           NULL, NULL, NULL, NULL, NULL, NULL
    FROM latest GROUP BY 2
    UNION ALL
    SELECT 'category', c.key, count(*),
           count(*) FILTER (WHERE (c.value->>'pending_grading')::int > 0), NULL, NULL,
           sum((c.value->>'awarded')::numeric), sum((c.value->>'max')::numeric), NULL
    FROM latest, jsonb_each(latest.categories) AS c
    GROUP BY c.key
    """
)
_VERSIONS = text(
    f"""
    SELECT v.version, v.content_hash,
           count(a.id) FILTER (WHERE a.status = 'submitted' AND {NOT_VOIDED})
    FROM exam_versions v
    LEFT JOIN attempts a
      ON a.tenant_id = v.tenant_id AND a.exam_id = v.exam_id AND a.exam_version = v.version
    WHERE v.exam_id = :exam
    GROUP BY v.version, v.content_hash ORDER BY v.version
    """
)
_STARTED = text(
    """
    SELECT count(*) FILTER (WHERE started_at IS NOT NULL),
           count(*) FILTER (WHERE status = 'submitted')
    FROM attempts WHERE exam_id = :exam
    """
)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def build(uow: UnitOfWork, exam_id: uuid.UUID) -> ExamCohort:
    exam = uow.scalar(select(Exam).where(Exam.id == exam_id))
    if exam is None:
        raise NotFound(f"exam {exam_id} was not found")
    run = uow.session.execute
    params = {"exam": exam_id, "bins": BINS}
    totals: tuple[Any, ...] = (0, 0, 0, 0, None, None, None)
    counts: dict[int, int] = {}
    categories = []
    for kind, key, n, a, b, c, d, e, f in run(_FIGURES, params).all():
        if kind == "totals":
            totals = (n, a, b, c, d, e, f)
        elif kind == "bin" and key is not None:
            counts[int(key)] = int(n)
        elif kind == "category":
            awarded, top = Decimal(str(d or 0)), Decimal(str(e or 0))
            categories.append(CategoryFigures(str(key), int(n), awarded, top, int(a)))
    categories.sort(key=lambda k: k.name)
    scored, passed, failed, pending, mean, median, duration = totals
    started, submitted = run(_STARTED, params).one()
    step = 100 // BINS
    bins = [Bin(i * step, (i + 1) * step, counts.get(i + 1, 0)) for i in range(BINS)]
    versions = [VersionCount(int(v), str(h), int(n)) for v, h, n in run(_VERSIONS, params).all()]
    return ExamCohort(
        exam_id=exam.id,
        title=exam.title,
        slug=exam.slug,
        started=int(started),
        submitted=int(submitted),
        scored=int(scored),
        passed=int(passed),
        failed=int(failed),
        pending=int(pending),
        mean_percent=_decimal(mean),
        median_percent=_decimal(median),
        median_duration_ms=None if duration is None else float(duration),
        versions=versions,
        bins=bins,
        categories=categories,
    )
