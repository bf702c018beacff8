"""Delivery's widgets on the home page (:mod:`invigil.web.home`): the
grader's queue (results that wait for a person to grade), attempts over the
last two weeks, and the latest submissions.

Each reads through an index in a bounded window (migration 0019): the
grader's queue is the oldest :data:`PEEK` waiting results (a partial index
holds only those), the chart 14 days of attempts, the list the latest
:data:`LATEST` submissions.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, cast, exists, func, select
from sqlalchemy.dialects.postgresql import DATE
from sqlalchemy.orm import aliased

from invigil.content.models import ExamVersion
from invigil.delivery.models import Attempt, AttemptResult, Candidate
from invigil.security.permissions import Permission
from invigil.web import home
from invigil.web.session import PageContext

PEEK = 100
LATEST = 8
CHART_DAYS = 14


def _latest_result() -> Any:
    newer = aliased(AttemptResult)
    return ~exists().where(
        newer.attempt_id == AttemptResult.attempt_id, newer.revision > AttemptResult.revision
    )


def grading_queue(ctx: PageContext) -> dict[str, Any]:
    pending = AttemptResult.document["pending_questions"].as_integer()
    rows = ctx.uow.session.execute(
        select(AttemptResult.attempt_id, AttemptResult.created_at, pending)
        .where(AttemptResult.needs_grading, _latest_result())
        .order_by(AttemptResult.created_at, AttemptResult.attempt_id)
        .limit(PEEK + 1)
    ).all()
    shown = rows[:PEEK]
    return {
        "attempts": len(shown),
        "responses": sum(int(n or 0) for _, _, n in shown),
        "more": len(rows) > PEEK,
        "oldest": shown[0][1] if shown else None,
        "oldest_attempt": shown[0][0] if shown else None,
    }


def attempts_over_time(ctx: PageContext) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=CHART_DAYS - 1)
    start = datetime.combine(first, time(), UTC)

    def per_day(column: Any) -> dict[date, int]:
        day = cast(func.timezone("UTC", column), DATE)
        found = ctx.uow.session.execute(
            select(day, func.count()).where(column >= start).group_by(day)
        ).all()
        return {d: int(n) for d, n in found}

    started, submitted = per_day(Attempt.created_at), per_day(Attempt.submitted_at)
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    return {
        "days": CHART_DAYS,
        "labels": [d.strftime("%d %b") for d in days],
        "started": [started.get(d, 0) for d in days],
        "submitted": [submitted.get(d, 0) for d in days],
        "total": sum(started.values()),
    }


def latest_submissions(ctx: PageContext) -> dict[str, Any]:
    rows = ctx.uow.session.execute(
        select(Attempt, Candidate.name, ExamVersion.title)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .join(
            ExamVersion,
            and_(
                ExamVersion.exam_id == Attempt.exam_id,
                ExamVersion.version == Attempt.exam_version,
            ),
        )
        .where(Attempt.submitted_at.is_not(None))
        .order_by(Attempt.submitted_at.desc(), Attempt.id)
        .limit(LATEST)
    ).all()
    ids = [a.id for a, _, _ in rows]
    results: dict[uuid.UUID, AttemptResult] = {}
    if ids:
        for r in ctx.uow.session.scalars(
            select(AttemptResult).where(AttemptResult.attempt_id.in_(ids), _latest_result())
        ):
            results[r.attempt_id] = r
    return {
        "rows": [
            {"attempt": a, "candidate": name, "exam": title, "result": results.get(a.id)}
            for a, name, title in rows
        ],
        "linked": ctx.can(Permission.ATTEMPT_VIEW),
    }


def install() -> None:
    P = Permission
    home.register(
        home.Widget(
            "grading-queue", P.GRADE_SUBMIT, "delivery/home_grading.html", grading_queue, 20
        )
    )
    home.register(
        home.Widget(
            "latest-submissions",
            P.RESULT_VIEW,
            "delivery/home_submissions.html",
            latest_submissions,
            40,
            wide=True,
        )
    )
    home.register(
        home.Widget(
            "attempts-over-time",
            P.ATTEMPT_VIEW,
            "delivery/home_attempts.html",
            attempts_over_time,
            55,
            wide=True,
        )
    )
