"""Models as API shapes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from invigil.content import worth
from invigil.content.assemble import Slot
from invigil.content.bodies import parse_body
from invigil.content.models import Exam, ExamVersion, QuestionBank, QuestionVersion
from invigil.content.paper import candidate_body
from invigil.content.questions import Current
from invigil.content.schemas import (
    BankOut,
    ExamOut,
    ExamVersionOut,
    PreviewItemOut,
    QuestionDetailOut,
    QuestionOut,
    TranslationOut,
    VersionOut,
)
from invigil.content.translations import Row


def bank_out(bank: QuestionBank, count: int) -> BankOut:
    return BankOut(
        id=bank.id,
        name=bank.name,
        description=bank.description,
        questions=count,
        created_at=bank.created_at,
        updated_at=bank.updated_at,
    )


def version_out(v: QuestionVersion) -> VersionOut:
    return VersionOut(
        id=v.id,
        version=v.version,
        category=v.category,
        tags=list(v.tags),
        difficulty=v.difficulty,
        points=float(v.points),
        body=v.body,
        language=v.language,
        created_at=v.created_at,
        created_by=v.created_by,
        drafted_from=v.drafted_from,
    )


def question_out(c: Current) -> QuestionOut:
    q, v = c.question, c.version
    return QuestionOut(
        id=q.id,
        bank_id=q.bank_id,
        type=q.type,
        version=v.version,
        version_id=v.id,
        category=v.category,
        tags=list(v.tags),
        difficulty=v.difficulty,
        points=float(v.points),
        body=v.body,
        language=v.language,
        archived=q.archived_at is not None,
        created_at=q.created_at,
        updated_at=q.updated_at,
    )


def question_detail(c: Current, history: list[QuestionVersion]) -> QuestionDetailOut:
    return QuestionDetailOut(
        **question_out(c).model_dump(), versions=[version_out(v) for v in history]
    )


def translation_out(r: Row) -> TranslationOut:
    t = r.translation
    return TranslationOut(
        language=t.language,
        question_version_id=t.question_version_id,
        version=r.version,
        current=r.current,
        body=t.body,
        created_at=t.created_at,
        updated_at=t.updated_at,
        updated_by=t.updated_by,
    )


def exam_out(e: Exam) -> ExamOut:
    return ExamOut(
        id=e.id,
        slug=e.slug,
        title=e.title,
        description=e.description,
        consent_text=e.consent_text,
        consent_translations=e.consent_translations or {},
        text_translations=e.text_translations or {},
        status=e.status,
        published_version=e.published_version,
        has_draft_changes=e.has_draft_changes,
        settings=e.settings,
        sections=e.sections,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def exam_version_out(v: ExamVersion) -> ExamVersionOut:
    return ExamVersionOut(
        id=v.id,
        exam_id=v.exam_id,
        version=v.version,
        title=v.title,
        content_hash=v.content_hash,
        consent_texts=v.consent_texts,
        text_translations=v.text_translations,
        text_language=v.text_language,
        settings=v.settings,
        sections=v.sections,
        created_at=v.created_at,
        created_by=v.created_by,
    )


def preview_items(
    slots: list[Slot],
    versions: dict[str, QuestionVersion],
    sections: Sequence[Mapping[str, Any]],
    images: dict[uuid.UUID, list[uuid.UUID]] | None = None,
) -> list[PreviewItemOut]:
    """The paper's items, each with what it counts for on this paper (a
    scaled section's share, :mod:`invigil.content.worth`); ``images`` maps a
    question version id to the images it shows."""
    points = worth.slot_points(
        sections, [s.section for s in slots], [versions[s.version_id].points for s in slots]
    )
    out = []
    for slot, worth_of in zip(slots, points, strict=True):
        v = versions[slot.version_id]
        out.append(
            PreviewItemOut(
                section=slot.section,
                question_id=v.question_id,
                question_version_id=v.id,
                type=slot.type,
                points=float(worth_of),
                body=candidate_body(parse_body(v.body), slot),
                images=(images or {}).get(v.id, []),
            )
        )
    return out
