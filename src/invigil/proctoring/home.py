"""Proctoring's widgets on the home page (:mod:`invigil.web.home`): the
review queue (how many attempts wait for a person, how long the oldest has
waited) and the flags raised over the last 30 days by kind.

The queue is the review page's own (:func:`review_queue.queue`), read one
bounded page deep, so "what needs review" has one definition: a count past
:data:`QUEUE_PEEK` reads "more than".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from invigil.proctoring.models import ProctoringAction
from invigil.proctoring.review_queue import queue
from invigil.proctoring.reviews import REVIEWABLE
from invigil.security.permissions import Permission
from invigil.web import home
from invigil.web.session import PageContext

QUEUE_PEEK = 100
FLAG_DAYS = 30


def review_queue(ctx: PageContext) -> dict[str, Any]:
    rows, more = queue(ctx.uow, exam_id=None, limit=QUEUE_PEEK, cursor=None)
    by_severity: dict[str, int] = {}
    for row in rows:
        by_severity[row.severity] = by_severity.get(row.severity, 0) + 1
    oldest = min((r.since for r in rows), default=None)
    return {
        "count": len(rows),
        "more": more is not None,
        "by_severity": by_severity,
        "oldest": oldest,
        "first": rows[:5],
    }


def flags_by_kind(ctx: PageContext) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(days=FLAG_DAYS)
    rows = ctx.uow.session.execute(
        select(ProctoringAction.kind, func.count())
        .where(ProctoringAction.created_at >= since, ProctoringAction.action.in_(REVIEWABLE))
        .group_by(ProctoringAction.kind)
        .order_by(func.count().desc(), ProctoringAction.kind)
    ).all()
    return {"days": FLAG_DAYS, "kinds": [(kind, int(n)) for kind, n in rows]}


def install() -> None:
    home.register(
        home.Widget(
            "review-queue",
            Permission.VIOLATION_REVIEW,
            "proctoring/home_queue.html",
            review_queue,
            order=10,
        )
    )
    home.register(
        home.Widget(
            "flags-by-kind",
            Permission.VIOLATION_REVIEW,
            "proctoring/home_flags.html",
            flags_by_kind,
            order=60,
        )
    )
