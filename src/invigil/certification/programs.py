"""Programs and their versions: create, revise (a new version when the
definition changes), read the current version."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from invigil import audit
from invigil.audit.records import anchor
from invigil.certification import records
from invigil.certification.definition import Definition
from invigil.certification.models import Program, ProgramVersion
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound


def get(uow: UnitOfWork, program_id: uuid.UUID) -> Program:
    found = uow.session.get(Program, (uow.tenant, program_id))
    if found is None:
        raise NotFound("no such program")
    return found


def current_version(uow: UnitOfWork, program_id: uuid.UUID) -> ProgramVersion:
    found = uow.session.scalars(
        select(ProgramVersion)
        .where(ProgramVersion.program_id == program_id)
        .order_by(ProgramVersion.version.desc())
        .limit(1)
    ).first()
    if found is None:
        raise NotFound("no such program")
    return found


def _add_version(uow: UnitOfWork, program: Program, number: int, definition: Definition,
                 by: uuid.UUID | None) -> ProgramVersion:  # fmt: skip
    version = ProgramVersion(
        tenant_id=uow.tenant, id=uuid.uuid4(), program_id=program.id, version=number,
        definition=definition.document(), definition_sha256=definition.sha256(), created_by=by,
    )  # fmt: skip
    uow.add(version)
    try:
        uow.flush()
    except IntegrityError:
        raise Conflict("someone changed this program just now: load the page again") from None
    record = records.program_version(uow, version.id)
    audit.record(
        uow,
        "certification.program_versioned",
        ("cert_program_version", version.id),
        {"program_id": str(program.id), "version": number,
         "anchor": anchor(record.kind, record.sha256)},
    )  # fmt: skip
    return version


def create(uow: UnitOfWork, name: str, definition: Definition,
           by: uuid.UUID | None = None) -> tuple[Program, ProgramVersion]:  # fmt: skip
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("a program needs a name of 1 to 200 characters", field="name")
    if uow.session.scalar(select(Program.id).where(Program.name == name)) is not None:
        raise Conflict(f"a program named {name!r} exists already", field="name")
    program = Program(tenant_id=uow.tenant, id=uuid.uuid4(), name=name, created_by=by)
    uow.add(program)
    uow.flush()
    audit.record(uow, "certification.program_created", ("cert_program", program.id),
                 {"name": name})  # fmt: skip
    return program, _add_version(uow, program, 1, definition, by)


def revise(uow: UnitOfWork, program_id: uuid.UUID, definition: Definition,
           by: uuid.UUID | None = None) -> ProgramVersion:  # fmt: skip
    """A new version when ``definition`` differs from the current one (else
    the current one). Certificates keep the version they were issued under."""
    program = get(uow, program_id)
    current = current_version(uow, program_id)
    if current.definition_sha256 == definition.sha256():
        return current
    return _add_version(uow, program, current.version + 1, definition, by)
