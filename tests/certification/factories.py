"""Programs, holders and certificates for the certification tests: a
program over one exam of the results cohort, certificates issued through
:func:`invigil.certification.lifecycle.issue` on a controlled clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from invigil.certification import lifecycle, programs
from invigil.certification.definition import parse
from invigil.certification.models import Certificate
from invigil.db.engine import Database
from invigil.delivery.models import Candidate
from tests.results.cohort import make_exam4

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def program(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    exam_ids: list[uuid.UUID] | None = None,
    name: str | None = None,
    **definition: Any,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A program (and its first version): ``(program id, version id)``."""
    exams = exam_ids or [make_exam4(db, tenant_id).id]
    with db.unit_of_work(tenant_id) as uow:
        made, version = programs.create(
            uow,
            name or f"Program {uuid.uuid4().hex[:6]}",
            parse({"exam_ids": [str(e) for e in exams], **definition}),
        )
        return made.id, version.id


def holder(db: Database, tenant_id: uuid.UUID, name: str = "Ada Holder") -> uuid.UUID:
    with db.unit_of_work(tenant_id) as uow:
        cand = Candidate(
            tenant_id=tenant_id, id=uuid.uuid4(), name=name,
            email=f"{uuid.uuid4().hex[:10]}@holders.test",
        )  # fmt: skip
        uow.add(cand)
        uow.flush()
        return cand.id


def certificate(
    db: Database,
    tenant_id: uuid.UUID,
    version_id: uuid.UUID,
    holder_id: uuid.UUID | None = None,
    *,
    now: datetime = NOW,
    basis: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    """A certificate issued at ``now`` (basis: none unless given)."""
    from invigil.certification.models import ProgramVersion

    who = holder_id or holder(db, tenant_id)
    with db.unit_of_work(tenant_id) as uow:
        version = uow.session.get(ProgramVersion, (tenant_id, version_id))
        assert version is not None
        cert = lifecycle.issue(
            uow, lifecycle.Issue(version=version, holder_id=who, basis=basis or []), now=now
        )
        return cert.id


def get(db: Database, tenant_id: uuid.UUID, certificate_id: uuid.UUID) -> Certificate:
    with db.unit_of_work(tenant_id) as uow:
        found = uow.session.get(Certificate, (tenant_id, certificate_id))
        assert found is not None
        uow.session.expunge(found)
        return found


def certificate_factory(db: Database, tenant: Any) -> str:
    """A certificate of ``tenant`` (the authorization matrix's ``certificate_id``)."""
    _, version = program(db, tenant.id)
    return str(certificate(db, tenant.id, version))


def group_factory(db: Database, tenant: Any) -> str:
    """A group requiring a program, with one member (the authorization matrix)."""
    from invigil.certification import groups

    prog, _ = program(db, tenant.id)
    who = holder(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        made = groups.create(uow, f"Group {uuid.uuid4().hex[:6]}")
        groups.set_required(uow, made.id, [prog])
        groups.add_member(uow, made.id, who)
        return str(made.id)


def candidate_factory(db: Database, tenant: Any) -> str:
    return str(holder(db, tenant.id))
