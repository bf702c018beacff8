"""What the certification API and pages read and the checks they share:
programs with their current version, a definition's references checked
against the tenant, certificates listed (filters, keyset pages) and one
with its history, approval requests. Changes go through
:mod:`invigil.certification.programs`, :mod:`~invigil.certification.issuance`
and :mod:`~invigil.certification.lifecycle`; this module adds no rule of
its own except that a definition names only the tenant's exams and
programs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from invigil.certification import lifecycle, programs
from invigil.certification.definition import Definition
from invigil.certification.models import (
    Certificate,
    PendingIssue,
    Program,
    ProgramVersion,
    StateChange,
)
from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.errors import Invalid, NotFound
from invigil.pagination import Keyset, check_limit

CERTIFICATE_ORDER = Keyset(
    Certificate.issued_at, Certificate.id, parse=(datetime.fromisoformat, uuid.UUID),
    descending=True,
)  # fmt: skip


@dataclass(frozen=True)
class ProgramView:
    program: Program
    current: ProgramVersion
    versions: list[ProgramVersion]

    @property
    def definition(self) -> Definition:
        return lifecycle.definition_of(self.current)


def published_exams(uow: UnitOfWork) -> list[Exam]:
    """The exams a program may require: published (or retired but once published)."""
    return uow.scalars(
        select(Exam).where(Exam.published_version.is_not(None)).order_by(Exam.title, Exam.id)
    )


def check_definition(uow: UnitOfWork, definition: Definition,
                     program_id: uuid.UUID | None = None) -> None:  # fmt: skip
    """A definition names only this tenant's published exams and other programs."""
    known = {e.id for e in published_exams(uow)}
    named = [("exam_ids", e) for e in definition.exam_ids]
    if definition.recert_exam_id is not None:
        named.append(("recert_exam_id", definition.recert_exam_id))
    for field, exam_id in named:
        if exam_id not in known:
            raise Invalid(f"{field}: {exam_id} is not a published exam of this tenant", field=field)
    if program_id is not None and program_id in definition.prerequisites:
        raise Invalid("prerequisites: a program cannot require itself", field="prerequisites")
    found = set(uow.scalars(select(Program.id).where(Program.id.in_(definition.prerequisites))))
    for p in definition.prerequisites:
        if p not in found:
            raise Invalid(f"prerequisites: {p} is not a program of this tenant",
                          field="prerequisites")  # fmt: skip


def versions(uow: UnitOfWork, program_id: uuid.UUID) -> list[ProgramVersion]:
    return uow.scalars(
        select(ProgramVersion)
        .where(ProgramVersion.program_id == program_id)
        .order_by(ProgramVersion.version.desc())
    )


def program(uow: UnitOfWork, program_id: uuid.UUID) -> ProgramView:
    found = programs.get(uow, program_id)
    history = versions(uow, program_id)
    return ProgramView(found, history[0], history)


def list_programs(uow: UnitOfWork, *, archived: bool | None = None) -> list[ProgramView]:
    stmt = select(Program).order_by(Program.name, Program.id)
    if archived is not None:
        stmt = stmt.where(Program.archived.is_(archived))
    rows = uow.scalars(stmt)
    by_program: dict[uuid.UUID, list[ProgramVersion]] = {}
    if rows:
        for v in uow.scalars(select(ProgramVersion)
                             .where(ProgramVersion.program_id.in_([p.id for p in rows]))
                             .order_by(ProgramVersion.version.desc())):  # fmt: skip
            by_program.setdefault(v.program_id, []).append(v)
    return [ProgramView(p, by_program[p.id][0], by_program[p.id]) for p in rows]


@dataclass(frozen=True)
class Filters:
    program_id: uuid.UUID | None = None
    holder_id: uuid.UUID | None = None
    state: str | None = None


def _filtered(stmt: Select[Any], f: Filters) -> Select[Any]:
    if f.program_id is not None:
        stmt = stmt.where(Certificate.program_id == f.program_id)
    if f.holder_id is not None:
        stmt = stmt.where(Certificate.holder_id == f.holder_id)
    if f.state is not None:
        stmt = stmt.where(Certificate.state == f.state)
    return stmt


def list_certificates(uow: UnitOfWork, f: Filters, cursor: str | None,
                      limit: int) -> tuple[list[Certificate], str | None]:  # fmt: skip
    """Newest issued first, a keyset page."""
    check_limit(limit)
    rows = uow.scalars(CERTIFICATE_ORDER.apply(_filtered(select(Certificate), f), cursor, limit))
    return CERTIFICATE_ORDER.page(rows, limit, lambda c: (c.issued_at, c.id))


def certificate(uow: UnitOfWork, certificate_id: uuid.UUID) -> Certificate:
    found = uow.session.get(Certificate, (uow.tenant, certificate_id))
    if found is None:
        raise NotFound("no such certificate")
    return found


def history(uow: UnitOfWork, certificate_id: uuid.UUID) -> list[StateChange]:
    return lifecycle.history(uow, certificate(uow, certificate_id).id)


def holders(uow: UnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    """Names and emails of holders (staff with certificate:view see them:
    a certificate names its holder)."""
    if not ids:
        return {}
    rows = uow.session.execute(
        select(Candidate.id, Candidate.name, Candidate.email).where(Candidate.id.in_(ids))
    )
    return {i: (n, e) for i, n, e in rows}


def holder(uow: UnitOfWork, holder_id: uuid.UUID) -> Candidate:
    found = uow.session.get(Candidate, (uow.tenant, holder_id))
    if found is None:
        raise NotFound("no such candidate")
    return found


def program_names(uow: UnitOfWork) -> dict[uuid.UUID, str]:
    return {i: n for i, n in uow.session.execute(select(Program.id, Program.name))}


def version_numbers(uow: UnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    stmt = select(ProgramVersion.id, ProgramVersion.version).where(ProgramVersion.id.in_(ids))
    return {i: n for i, n in uow.session.execute(stmt)}


def approvals(
    uow: UnitOfWork, status: str | None = "pending", limit: int = 200
) -> list[PendingIssue]:
    stmt = select(PendingIssue).order_by(PendingIssue.created_at.desc(), PendingIssue.id)
    if status is not None:
        stmt = stmt.where(PendingIssue.status == status)
    return uow.scalars(stmt.limit(limit))


def approval(uow: UnitOfWork, pending_id: uuid.UUID) -> PendingIssue:
    found = uow.session.get(PendingIssue, (uow.tenant, pending_id))
    if found is None:
        raise NotFound("no such approval request")
    return found


def pending_count(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(
        select(func.count()).select_from(PendingIssue).where(PendingIssue.status == "pending")
    ) or 0)  # fmt: skip
