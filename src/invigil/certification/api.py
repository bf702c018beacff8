"""The certification API under ``/api/v1``: programs (list, create, one,
revise = a new version, archive), certificates (list with filters, one with
its history and basis, state changes), approval requests (list, approve,
reject) and a manual issue that runs the same evaluation as the automatic
trigger. Reading needs ``certificate:view``; changing programs
``certification:manage``; state changes ``certificate:revoke``; deciding
requests ``certification:approve``; a manual issue ``certificate:issue``
(docs/api/certification.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from invigil.certification import issuance, lifecycle, programs, service
from invigil.certification.models import Certificate, PendingIssue, ProgramVersion
from invigil.certification.schemas import (
    ApprovalOut,
    ArchiveIn,
    BasisOut,
    CertificateOut,
    IssueIn,
    IssueOut,
    ProgramIn,
    ProgramOut,
    RejectIn,
    ReviseIn,
    StateChangeOut,
    StateIn,
    VersionOut,
)
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict
from invigil.identity.grants import actor_user
from invigil.pagination import Page
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["certification"])

# A state change as the API names it -> the state it moves to.
ACTIONS = {"suspend": "suspended", "reinstate": "issued", "revoke": "revoked"}


def _version(v: ProgramVersion) -> VersionOut:
    return VersionOut(id=v.id, version=v.version, definition=v.definition,
                      definition_sha256=v.definition_sha256, created_at=v.created_at)  # fmt: skip


def _program(view: service.ProgramView) -> ProgramOut:
    return ProgramOut(id=view.program.id, name=view.program.name, archived=view.program.archived,
                      current=_version(view.current),
                      versions=[_version(v) for v in view.versions])  # fmt: skip


def certificates_out(uow: UnitOfWork, rows: list[Certificate],
                     full: bool = False) -> list[CertificateOut]:  # fmt: skip
    people = service.holders(uow, {c.holder_id for c in rows})
    names = service.program_names(uow) if rows else {}
    numbers = service.version_numbers(uow, {c.program_version_id for c in rows})
    out = []
    for c in rows:
        name, email = people.get(c.holder_id, ("", ""))
        history = None
        if full:
            history = [StateChangeOut(seq=h.seq, from_state=h.from_state, state=h.state,
                                      reason=h.reason, changed_by=h.changed_by,
                                      changed_at=h.changed_at)
                       for h in lifecycle.history(uow, c.id)]  # fmt: skip
        out.append(CertificateOut(
            id=c.id, number=c.number, program_id=c.program_id, program_name=names[c.program_id],
            program_version_id=c.program_version_id, program_version=numbers[c.program_version_id],
            holder_id=c.holder_id, holder_name=name, holder_email=email, issued_at=c.issued_at,
            expires_at=c.expires_at, state=c.state,
            state_seq=c.state_seq, state_changed_at=c.state_changed_at, renews_id=c.renews_id,
            issued_by=c.issued_by, approved_by=c.approved_by,
            basis=[BasisOut.model_validate(b) for b in c.basis], history=history,
        ))  # fmt: skip
    return out


def approvals_out(uow: UnitOfWork, rows: list[PendingIssue]) -> list[ApprovalOut]:
    people = service.holders(uow, {r.holder_id for r in rows})
    return [ApprovalOut(
        id=r.id, program_id=r.program_id, program_version_id=r.program_version_id,
        holder_id=r.holder_id, holder_name=people.get(r.holder_id, ("", ""))[0],
        created_at=r.created_at, basis=[BasisOut.model_validate(b) for b in r.basis],
        status=r.status, decided_by=r.decided_by,
        decided_at=r.decided_at, reason=r.reason, certificate_id=r.certificate_id,
    ) for r in rows]  # fmt: skip


@router.get("/certification-programs", response_model=list[ProgramOut])
def list_programs(
    archived: bool | None = None, uow: UnitOfWork = requires(P.CERTIFICATE_VIEW)
) -> list[ProgramOut]:
    return [_program(v) for v in service.list_programs(uow, archived=archived)]


@router.post("/certification-programs", response_model=ProgramOut, status_code=201)
def create_program(
    body: ProgramIn, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> ProgramOut:
    service.check_definition(uow, body.definition)
    made, _ = programs.create(uow, body.name, body.definition, actor_user(uow))
    return _program(service.program(uow, made.id))


@router.get("/certification-programs/{program_id}", response_model=ProgramOut)
def get_program(
    program_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATE_VIEW)
) -> ProgramOut:
    return _program(service.program(uow, program_id))


@router.post("/certification-programs/{program_id}/versions", response_model=ProgramOut)
def revise_program(
    program_id: uuid.UUID, body: ReviseIn, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> ProgramOut:
    """A new version when the definition differs from the current one
    (the same definition leaves the current version as it is)."""
    programs.get(uow, program_id)
    service.check_definition(uow, body.definition, program_id)
    programs.revise(uow, program_id, body.definition, actor_user(uow))
    return _program(service.program(uow, program_id))


@router.post("/certification-programs/{program_id}/archive", response_model=ProgramOut)
def archive_program(
    program_id: uuid.UUID, body: ArchiveIn, uow: UnitOfWork = requires(P.CERTIFICATION_MANAGE)
) -> ProgramOut:
    issuance.archive(uow, program_id, body.archived)
    return _program(service.program(uow, program_id))


@router.get("/certificates", response_model=Page[CertificateOut])
def list_certificates(
    program_id: uuid.UUID | None = None,
    holder_id: uuid.UUID | None = None,
    state: Literal["issued", "suspended", "expired", "revoked"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    uow: UnitOfWork = requires(P.CERTIFICATE_VIEW),
) -> Page[CertificateOut]:
    rows, nxt = service.list_certificates(
        uow, service.Filters(program_id, holder_id, state), cursor, limit
    )
    return Page[CertificateOut](items=certificates_out(uow, rows), next=nxt)


@router.get("/certificates/{certificate_id}", response_model=CertificateOut)
def get_certificate(
    certificate_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATE_VIEW)
) -> CertificateOut:
    return certificates_out(uow, [service.certificate(uow, certificate_id)], full=True)[0]


@router.post("/certificates/{certificate_id}/state", response_model=CertificateOut)
def change_state(
    certificate_id: uuid.UUID, body: StateIn, uow: UnitOfWork = requires(P.CERTIFICATE_REVOKE)
) -> CertificateOut:
    """Suspend, reinstate or revoke with a reason; ``expect_seq`` (the
    ``state_seq`` you saw) makes a change someone else made since a 409."""
    lifecycle.change_state(uow, certificate_id, ACTIONS[body.action], body.reason,
                           now=datetime.now(UTC), by=actor_user(uow),
                           expect_seq=body.expect_seq)  # fmt: skip
    return certificates_out(uow, [service.certificate(uow, certificate_id)], full=True)[0]


@router.get("/certification-approvals", response_model=list[ApprovalOut])
def list_approvals(
    status: Literal["pending", "approved", "rejected"] | None = "pending",
    uow: UnitOfWork = requires(P.CERTIFICATION_APPROVE),
) -> list[ApprovalOut]:
    return approvals_out(uow, service.approvals(uow, status))


@router.post("/certification-approvals/{approval_id}/approve", response_model=CertificateOut)
def approve(
    approval_id: uuid.UUID, uow: UnitOfWork = requires(P.CERTIFICATION_APPROVE)
) -> CertificateOut:
    by = actor_user(uow)
    assert by is not None  # requires() admits signed-in users only
    cert = issuance.approve(uow, approval_id, by, datetime.now(UTC))
    return certificates_out(uow, [cert], full=True)[0]


@router.post("/certification-approvals/{approval_id}/reject", response_model=ApprovalOut)
def reject(
    approval_id: uuid.UUID, body: RejectIn, uow: UnitOfWork = requires(P.CERTIFICATION_APPROVE)
) -> ApprovalOut:
    by = actor_user(uow)
    assert by is not None
    return approvals_out(uow, [issuance.reject(uow, approval_id, by, body.reason,
                                                datetime.now(UTC))])[0]  # fmt: skip


@router.post("/certificates", response_model=IssueOut, status_code=201)
def issue(body: IssueIn, uow: UnitOfWork = requires(P.CERTIFICATE_ISSUE)) -> IssueOut:
    """Evaluate a holder for one program now (as when a result becomes
    final): issued, or waiting for an approver; 409 naming the first unmet
    requirement, or why nothing more is issued on these results."""
    service.holder(uow, body.holder_id)
    view = service.program(uow, body.program_id)
    if view.program.archived:
        raise Conflict("the program is archived", field="program_id")
    done = issuance.evaluate(uow, body.holder_id, now=datetime.now(UTC), by=actor_user(uow),
                             program_ids={body.program_id})  # fmt: skip
    if not done:
        raise Conflict(issuance.why_not(uow, view.current, body.holder_id, datetime.now(UTC)),
                       field="holder_id")  # fmt: skip
    (outcome,) = done
    if outcome.certificate is not None:
        (cert,) = certificates_out(uow, [outcome.certificate], full=True)
        return IssueOut(outcome="issued", certificate=cert)
    assert outcome.pending is not None
    return IssueOut(outcome="pending", approval=approvals_out(uow, [outcome.pending])[0])
