"""Questions and their immutable versions.

Editing never changes a version: it writes version n+1 and moves the
question's ``current_version`` pointer. Exams pin the version ids they use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select

from invigil import audit
from invigil.content.banks import require_bank
from invigil.content.models import Question, QuestionVersion
from invigil.content.schemas import QuestionIn, QuestionPatchIn, describe
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.pagination import Keyset, created_key


@dataclass(frozen=True)
class Current:
    """A question with its current version."""

    question: Question
    version: QuestionVersion


def _author(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:80]


def as_input(v: QuestionVersion) -> QuestionIn:
    """A stored version as the input that would recreate it (export, edit)."""
    return QuestionIn.model_validate(
        {
            "category": v.category,
            "tags": list(v.tags),
            "difficulty": v.difficulty,
            "points": float(v.points),
            "body": v.body,
            "language": v.language,
        }
    )


def _version(
    uow: UnitOfWork,
    q: Question,
    n: int,
    data: QuestionIn,
    drafted_from: uuid.UUID | None = None,
) -> QuestionVersion:
    v = QuestionVersion(
        tenant_id=uow.tenant,
        question_id=q.id,
        version=n,
        body=data.body.model_dump(mode="json"),
        points=Decimal(str(data.points)),
        category=data.category,
        tags=list(data.tags),
        difficulty=data.difficulty,
        language=data.language,
        created_by=_author(uow),
        drafted_from=drafted_from,
    )
    uow.add(v)
    return v


def require_question(uow: UnitOfWork, question_id: uuid.UUID) -> Question:
    try:
        return uow.get(Question, question_id)
    except NotFound:
        raise NotFound(f"question {question_id} was not found") from None


def current(uow: UnitOfWork, q: Question) -> QuestionVersion:
    v = uow.scalar(
        select(QuestionVersion).where(
            QuestionVersion.question_id == q.id, QuestionVersion.version == q.current_version
        )
    )
    assert v is not None, "a question always has its current version"
    return v


def add_questions(
    uow: UnitOfWork,
    bank_id: uuid.UUID,
    items: list[QuestionIn],
    drafted_from: uuid.UUID | None = None,
    *,
    start: datetime | None = None,
) -> list[Current]:
    """Create questions (version 1 each) in one flush; the caller audits.
    ``drafted_from``: the AI draft they were saved from (content.drafting).
    ``start``: the first one's creation time (default now), one microsecond
    apart after it, so that a file written in batches keeps its order."""
    out = []
    start = start or datetime.now(UTC)
    for n, data in enumerate(items):
        q = Question(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            bank_id=bank_id,
            type=data.body.type,
            current_version=1,
            created_at=start + timedelta(microseconds=n),  # keeps the file's order in lists
        )
        uow.add(q)
        out.append(Current(q, _version(uow, q, 1, data, drafted_from)))
    uow.flush()
    return out


def create_question(
    uow: UnitOfWork, bank_id: uuid.UUID, data: QuestionIn, *, drafted_from: uuid.UUID | None = None
) -> Current:
    require_bank(uow, bank_id)
    made = add_questions(uow, bank_id, [data], drafted_from)[0]
    payload: dict[str, Any] = {
        "bank_id": bank_id, "version": 1, "version_id": made.version.id, "type": data.body.type,
    }  # fmt: skip
    if drafted_from is not None:
        payload["drafted_from"] = drafted_from
    audit.record(uow, "question.created", made.question, payload)
    return made


def update_question(uow: UnitOfWork, question_id: uuid.UUID, patch: QuestionPatchIn) -> Current:
    q = require_question(uow, question_id)
    # Concurrent edits (or an image attached meanwhile) take turns: each gets
    # the next version number instead of colliding on it.
    uow.session.refresh(q, with_for_update=True)
    if q.archived_at is not None:
        raise Conflict("this question is archived; it can no longer be edited")
    given = patch.model_dump(exclude_unset=True, exclude_none=True)
    if not given:
        raise Invalid(
            "nothing to change: give at least one of category, tags, difficulty, points, body, "
            "language"
        )
    old = current(uow, q)
    merged: dict[str, Any] = as_input(old).model_dump(mode="json") | given
    try:
        data = QuestionIn.model_validate(merged)
    except ValidationError as exc:
        problems = describe(exc)
        raise Invalid("the question was not changed: " + "; ".join(problems)) from None
    if data.body.type != q.type:
        raise Invalid(
            f"a question's type cannot change (it is {q.type}); create a new question instead"
        )
    if data == as_input(old):
        raise Invalid("nothing to change: the question already says exactly this")
    q.current_version += 1
    q.updated_at = datetime.now(UTC)
    v = _version(uow, q, q.current_version, data)
    uow.flush()
    audit.record(
        uow,
        "question.updated",
        q,
        {"version": q.current_version, "version_id": v.id, "changed": sorted(given)},
    )
    return Current(q, v)


def archive_question(uow: UnitOfWork, question_id: uuid.UUID) -> Current:
    """Archived questions stay readable (exams pin their versions) but are
    no longer drawn by pools, editable, or accepted in new exam sections."""
    q = require_question(uow, question_id)
    if q.archived_at is None:
        q.archived_at = datetime.now(UTC)
        uow.flush()
        audit.record(uow, "question.archived", q, {"version": q.current_version})
    return Current(q, current(uow, q))


def history(uow: UnitOfWork, q: Question) -> list[QuestionVersion]:
    return uow.scalars(
        select(QuestionVersion)
        .where(QuestionVersion.question_id == q.id)
        .order_by(QuestionVersion.version)
    )


@dataclass(frozen=True)
class Search:
    bank_id: uuid.UUID | None = None
    text: str | None = None
    category: str | None = None
    tag: str | None = None
    type: str | None = None
    difficulty: str | None = None
    include_archived: bool = False


def _joined() -> Any:
    return select(Question, QuestionVersion).join(
        QuestionVersion,
        and_(
            QuestionVersion.tenant_id == Question.tenant_id,
            QuestionVersion.question_id == Question.id,
            QuestionVersion.version == Question.current_version,
        ),
    )


PROMPT = QuestionVersion.body["prompt"].astext


def current_select(bank_id: uuid.UUID) -> Any:
    """A bank's questions in their current versions, archived ones left out
    (the staff table narrows, sorts and pages it)."""
    return _joined().where(Question.bank_id == bank_id, Question.archived_at.is_(None))


OLDEST = Keyset(Question.created_at, Question.id, parse=(datetime.fromisoformat, uuid.UUID))


def search(
    uow: UnitOfWork, f: Search, *, limit: int | None = None, cursor: str | None = None
) -> tuple[list[Current], str | None]:
    """Current versions, oldest first (created_at, id), with keyset paging."""
    stmt = _joined()
    if f.bank_id is not None:
        stmt = stmt.where(Question.bank_id == f.bank_id)
    if not f.include_archived:
        stmt = stmt.where(Question.archived_at.is_(None))
    if f.type:
        stmt = stmt.where(Question.type == f.type)
    if f.difficulty:
        stmt = stmt.where(QuestionVersion.difficulty == f.difficulty)
    if f.category:
        stmt = stmt.where(func.lower(QuestionVersion.category) == f.category.strip().lower())
    if f.tag:
        stmt = stmt.where(QuestionVersion.tags.contains([f.tag.strip().lower()]))
    if f.text:
        like = "%" + f.text.strip().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        like += "%"
        stmt = stmt.where(
            or_(
                QuestionVersion.body["prompt"].astext.ilike(like),
                QuestionVersion.body["explanation"].astext.ilike(like),
            )
        )
    rows = [Current(q, v) for q, v in uow.session.execute(OLDEST.apply(stmt, cursor, limit))]
    return OLDEST.page(rows, limit, lambda row: created_key(row.question))


def versions_by_id(uow: UnitOfWork, ids: list[uuid.UUID]) -> dict[uuid.UUID, QuestionVersion]:
    if not ids:
        return {}
    found = uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    return {v.id: v for v in found}
