"""The three documents an attempt's result is recomputed from, offline.

An auditor who holds them can recompute every score field of the attempt's
result documents with :mod:`invigil.verifier.scoring`, which imports nothing
of Invigil (docs/formats/result-recomputation.md describes the shapes and
the rules; docs/adr/0040-independent-result-recomputation.md why):

- :func:`exam_document`: the exam version as frozen at publish (exactly the
  document its ``content_hash`` is the SHA-256 of, in RFC 8785 canonical
  JSON) and the question versions on this attempt's paper: their points,
  category, language and body with its scoring keys. Only the paper's: the
  other questions of a pool, and their answers, stay out;
- :func:`answer_sheet`: the paper the candidate was given (questions in
  order, the shuffled order of their options) and the newest answer to
  each question, as stored;
- :func:`marks_document`: every grading mark of the attempt, each as the
  document its audit anchor hashes (:mod:`invigil.results.records`).

They are plain JSON values (ids and times as strings, amounts as decimal
strings), read in one unit of work; nothing is written.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from invigil.audit.log import jsonable
from invigil.content.models import QuestionVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery.attempts import answers_of, version_of
from invigil.delivery.models import Attempt
from invigil.results.grading import marks_of
from invigil.results.records import AI_MARK_FIELDS, MARK_FIELDS, without_unset_ai


def exam_document(uow: UnitOfWork, attempt: Attempt) -> dict[str, Any]:
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    frozen: dict[str, Any] = {
        "title": version.title,
        "description": version.description,
        "consent_text": version.consent_text,
        "consent_texts": version.consent_texts,
        "settings": version.settings,
        "sections": version.sections,
    }
    if version.text_translations:  # as content.freeze hashes it: only when some are frozen
        frozen |= {
            "text_translations": version.text_translations,
            "text_language": version.text_language,
        }
    ids = sorted({uuid.UUID(slot["version_id"]) for slot in attempt.paper})
    rows = uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    document: dict[str, Any] = jsonable(
        {
            "exam_id": attempt.exam_id,
            "version": attempt.exam_version,
            "content_hash": version.content_hash,
            "frozen": frozen,
            "question_versions": {
                str(v.id): {
                    "question_id": v.question_id,
                    "version": v.version,
                    "category": v.category,
                    "points": v.points,
                    "language": v.language,
                    "body": v.body,
                }
                for v in sorted(rows, key=lambda v: str(v.id))
            },
        }
    )
    return document


def answer_sheet(uow: UnitOfWork, attempt: Attempt) -> dict[str, Any]:
    document: dict[str, Any] = jsonable(
        {
            "attempt_id": attempt.id,
            "exam_id": attempt.exam_id,
            "exam_version": attempt.exam_version,
            "attempt_number": attempt.number,
            "seed": str(attempt.seed),  # 62 bits: more than a JSON number holds exactly
            "language": attempt.language,
            "status": attempt.status,
            "submitted_at": attempt.submitted_at,
            "paper": attempt.paper,
            "answers": [
                {
                    "slot": a.slot,
                    "response": a.response,
                    "seq": a.seq,
                    "time_ms": a.time_ms,
                    "flagged": a.flagged,
                    "late": a.late,
                    "saved_at": a.saved_at,
                }
                for a in answers_of(uow, attempt.id)
            ],
        }
    )
    return document


def marks_document(uow: UnitOfWork, attempt: Attempt) -> list[dict[str, Any]]:
    """Every mark of the attempt, oldest first (ties by id)."""
    return [
        without_unset_ai(
            jsonable({field: getattr(m, field) for field in MARK_FIELDS + AI_MARK_FIELDS})
        )
        for m in marks_of(uow, attempt.id)
    ]
