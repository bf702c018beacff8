"""Question banks: a named set of questions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from invigil import audit
from invigil.content.models import Question, QuestionBank
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound


def require_bank(uow: UnitOfWork, bank_id: uuid.UUID) -> QuestionBank:
    try:
        return uow.get(QuestionBank, bank_id)
    except NotFound:
        raise NotFound(f"question bank {bank_id} was not found") from None


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise Invalid("the bank needs a name")
    return name


def find_by_name(uow: UnitOfWork, name: str) -> QuestionBank | None:
    return uow.scalar(select(QuestionBank).where(QuestionBank.name == _name(name)))


def create_bank(uow: UnitOfWork, *, name: str, description: str = "") -> QuestionBank:
    name = _name(name)
    if find_by_name(uow, name) is not None:
        raise Conflict(f"a question bank named {name!r} already exists; choose another name")
    bank = QuestionBank(tenant_id=uow.tenant, name=name, description=description.strip())
    uow.add(bank)
    uow.flush()
    audit.record(uow, "question_bank.created", bank, {"name": name})
    return bank


def update_bank(
    uow: UnitOfWork, bank_id: uuid.UUID, *, name: str | None, description: str | None
) -> QuestionBank:
    bank = require_bank(uow, bank_id)
    changes: dict[str, str] = {}
    if name is not None and _name(name) != bank.name:
        other = find_by_name(uow, name)
        if other is not None:
            raise Conflict(f"a question bank named {_name(name)!r} already exists")
        bank.name = changes["name"] = _name(name)
    if description is not None and description.strip() != bank.description:
        bank.description = changes["description"] = description.strip()
    if changes:
        bank.updated_at = datetime.now(UTC)
        uow.flush()
        audit.record(uow, "question_bank.updated", bank, {"changed": sorted(changes)})
    return bank


def list_banks(uow: UnitOfWork) -> list[QuestionBank]:
    return uow.scalars(select(QuestionBank).order_by(QuestionBank.name, QuestionBank.id))


def question_counts(uow: UnitOfWork, bank_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Live (not archived) questions per bank."""
    if not bank_ids:
        return {}
    rows = uow.session.execute(
        select(Question.bank_id, func.count())
        .where(Question.bank_id.in_(bank_ids), Question.archived_at.is_(None))
        .group_by(Question.bank_id)
    )
    return {bank_id: int(n) for bank_id, n in rows}
