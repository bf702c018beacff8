"""Content's widget on the home page (:mod:`invigil.web.home`): the
author's drafts, the exams whose changes are not published yet (new drafts,
and published exams edited since). Questions reach candidates only through
an exam's published version, so an exam's unpublished changes are where an
author's unfinished work shows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from invigil.content.models import Exam
from invigil.security.permissions import Permission
from invigil.web import home
from invigil.web.session import PageContext

SHOWN = 8
PEEK = 100


def drafts(ctx: PageContext) -> dict[str, Any]:
    waiting = Exam.has_draft_changes & (Exam.status != "retired")
    exams = ctx.uow.session.scalars(
        select(Exam).where(waiting).order_by(Exam.updated_at.desc(), Exam.id).limit(SHOWN)
    ).all()
    capped = select(Exam.id).where(waiting).limit(PEEK + 1).subquery()
    count = ctx.uow.session.scalar(select(func.count()).select_from(capped)) or 0
    return {"exams": exams, "count": min(count, PEEK), "more": count > PEEK}


def install() -> None:
    home.register(
        home.Widget("drafts", Permission.EXAM_CREATE, "content/home_drafts.html", drafts, 25)
    )
