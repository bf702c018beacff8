"""What content provides to the layers below it (docs/adr/0019-layers.md):
names of banks, questions and exams for the audit log a person reads, and
the authors' home widgets. Installed when the content package is imported
(its ``__init__``); the shell imports every domain at start-up."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import and_, select

from invigil.audit import names
from invigil.content import home as home_widgets
from invigil.content.models import Exam, Question, QuestionBank, QuestionDraft, QuestionVersion
from invigil.db.uow import UnitOfWork

PROMPT_CHARS = 80


def bank_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    rows = uow.session.execute(
        select(QuestionBank.id, QuestionBank.name).where(QuestionBank.id.in_(ids))
    )
    return {i: name for i, name in rows}


def exam_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    rows = uow.session.execute(select(Exam.id, Exam.title, Exam.slug).where(Exam.id.in_(ids)))
    return {i: f"{title} ({slug})" for i, title, slug in rows}


def question_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """A question by the start of its current prompt."""
    rows = uow.session.execute(
        select(Question.id, QuestionVersion.body["prompt"].astext)
        .join(
            QuestionVersion,
            and_(
                QuestionVersion.question_id == Question.id,
                QuestionVersion.version == Question.current_version,
            ),
        )
        .where(Question.id.in_(ids))
    )
    out = {}
    for ident, prompt in rows:
        text = " ".join((prompt or "").split())
        out[ident] = text if len(text) <= PROMPT_CHARS else text[: PROMPT_CHARS - 1] + "\u2026"
    return out


def draft_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """An AI draft by the first words of its question."""
    rows = uow.session.execute(
        select(QuestionDraft.id, QuestionDraft.content["body"]["prompt"].astext).where(
            QuestionDraft.id.in_(ids)
        )
    )
    out = {}
    for ident, prompt in rows:
        text = " ".join((prompt or "").split())
        out[ident] = text if len(text) <= PROMPT_CHARS else text[: PROMPT_CHARS - 1] + "\u2026"
    return out


def install() -> None:
    names.register("question_bank", bank_names)
    names.register("exam", exam_names)
    names.register("question", question_names)
    names.register("question_draft", draft_names)
    home_widgets.install()
