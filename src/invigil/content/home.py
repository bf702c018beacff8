"""Content's widgets on the home page (:mod:`invigil.web.home`): the
author's drafts, the exams whose changes are not published yet (new drafts,
and published exams edited since; questions reach candidates only through
an exam's published version, so that is where unfinished work shows), and
for whoever curates questions, the banks changed last with their counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from invigil.content.banks import question_counts
from invigil.content.models import Exam, QuestionBank
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


def banks(ctx: PageContext) -> dict[str, Any]:
    recent = list(
        ctx.uow.session.scalars(
            select(QuestionBank)
            .order_by(QuestionBank.updated_at.desc(), QuestionBank.id)
            .limit(SHOWN)
        )
    )
    counts = question_counts(ctx.uow, [b.id for b in recent])
    return {"banks": [(b, counts.get(b.id, 0)) for b in recent]}


def install() -> None:
    home.register(
        home.Widget("drafts", Permission.EXAM_CREATE, "content/home_drafts.html", drafts, 25)
    )
    home.register(
        home.Widget(
            "question-banks", Permission.QUESTION_MANAGE, "content/home_banks.html", banks, 27
        )
    )
