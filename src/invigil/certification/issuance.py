"""Issuance: from a holder's final results to certificates (or to an
approver's queue).

:func:`evaluate` looks at every program that is not archived, under its
current version, and for each one the holder now meets
(:mod:`invigil.certification.requirements`) either issues
(:func:`invigil.certification.lifecycle.issue`, then
:func:`invigil.certification.announce.issued`) or, when the version asks for
an approver, opens a ``cert_pending`` row. It is run whenever a result
becomes final (:mod:`invigil.certification.hooks`), by hand through the API
and pages, and again and again without harm:

- No double issue. Nothing happens for a program while the holder has an
  open request for it, or when every result the new basis rests on is one a
  certificate (in any state) or a decided request of the program already
  rests on: a revoked certificate is not re-issued by running evaluation
  again, nor is a rejection undone.
- Renewal. A new result (an attempt no certificate rests on) while the
  holder's latest certificate is live issues again only once the
  recertification window is open (``expires_at - recert_window_days <=
  now``), and only from an ``issued`` certificate (a suspended one is not
  renewed around its suspension); lifecycle counts the new validity from the
  old expiry (or now, per program) and names the certificate it renews.
  Outside the window a new pass issues nothing.
- One evaluation per holder at a time (a transaction-scoped advisory lock):
  two jobs for the same holder cannot both issue.
- Prerequisites: a certificate issued in this evaluation counts for the
  programs that require it (programs are gone through until nothing more
  is issued).

:func:`approve` re-checks the request's results against the version it
was made under (a regrade since may have undone them), then issues with the
approver named; :func:`reject` closes it with a reason. Everything audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from invigil import audit
from invigil.certification import announce, facts, lifecycle, programs, requirements
from invigil.certification.definition import Definition
from invigil.certification.models import Certificate, PendingIssue, Program, ProgramVersion
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound


@dataclass(frozen=True)
class Outcome:
    """What evaluation did for one program: ``issued`` (``certificate``) or
    ``pending`` (``pending``, waiting for an approver)."""

    program_id: uuid.UUID
    kind: str
    certificate: Certificate | None = None
    pending: PendingIssue | None = None


def _lock_holder(uow: UnitOfWork, holder_id: uuid.UUID) -> None:
    uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"invigil:certification:evaluate:{uow.tenant}:{holder_id}"},
    )


def attempts_of(basis: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> frozenset[str]:
    return frozenset(str(b["attempt_id"]) for b in basis)


def routes(uow: UnitOfWork, version: ProgramVersion, holder_id: uuid.UUID,
           now: datetime) -> list[requirements.Evaluation]:  # fmt: skip
    """The holder against ``version``: the program's requirements first,
    each with its reason; then, when the version names a recertification
    exam and the holder has a certificate of the program that a new one
    would renew (live, or expired within the grace period), the
    recertification route (a final pass of that exam)."""
    definition = lifecycle.definition_of(version)
    exam_ids = list(definition.exam_ids)
    recert = definition.recert_exam_id
    if recert is not None and recert not in exam_ids:
        exam_ids.append(recert)
    found = facts.of(uow, holder_id, exam_ids, now)
    out = [requirements.evaluate(definition, found)]
    if recert is not None and lifecycle.renewable(uow, version.program_id, holder_id,
                                                  definition, now) is not None:  # fmt: skip
        out.append(requirements.evaluate_recertification(definition, found))
    return out


def explain(uow: UnitOfWork, version: ProgramVersion, holder_id: uuid.UUID,
            now: datetime) -> requirements.Evaluation:  # fmt: skip
    """The holder against ``version``'s requirements, each with its reason."""
    return routes(uow, version, holder_id, now)[0]


def assess(uow: UnitOfWork, version: ProgramVersion, holder_id: uuid.UUID,
           now: datetime) -> tuple[requirements.Evaluation, str | None]:  # fmt: skip
    """What evaluation would do now: the first route that is met and not
    blocked, with None (issue on its basis); else the requirements with
    the reason a met route is blocked (or None when none is met)."""
    definition = lifecycle.definition_of(version)
    found = routes(uow, version, holder_id, now)
    why: str | None = None
    for route in found:
        if not route.met:
            continue
        block = blocked(uow, version.program_id, holder_id, definition, route.basis, now)
        if block is None:
            return route, None
        why = why or block
    return found[0], why


def blocked(uow: UnitOfWork, program_id: uuid.UUID, holder_id: uuid.UUID,
            definition: Definition, basis: tuple[dict[str, Any], ...],
            now: datetime) -> str | None:  # fmt: skip
    """Why a holder who meets the program gets nothing now (None: issue)."""
    open_request = uow.session.scalar(
        select(PendingIssue.id).where(
            PendingIssue.program_id == program_id,
            PendingIssue.holder_id == holder_id,
            PendingIssue.status == "pending",
        )
    )
    if open_request is not None:
        return "awaiting_approval"
    used: set[str] = set()
    for rests_on in uow.session.scalars(
        select(Certificate.basis).where(
            Certificate.program_id == program_id, Certificate.holder_id == holder_id
        )
    ):
        used |= attempts_of(rests_on)
    for rests_on in uow.session.scalars(
        select(PendingIssue.basis).where(
            PendingIssue.program_id == program_id,
            PendingIssue.holder_id == holder_id,
            PendingIssue.status == "rejected",
        )
    ):
        used |= attempts_of(rests_on)
    if attempts_of(basis) <= used:
        return "same_results"
    latest = uow.session.scalars(
        select(Certificate)
        .where(Certificate.program_id == program_id, Certificate.holder_id == holder_id)
        .order_by(Certificate.issued_at.desc(), Certificate.id)
        .limit(1)
    ).first()
    if latest is None or latest.state not in lifecycle.LIVE:
        return None
    if latest.state == "suspended":
        return "suspended"
    if latest.expires_at is None:
        return "never_expires"
    if latest.expires_at - timedelta(days=definition.recert_window_days) > now:
        return "window_not_open"
    return None


def _issue(uow: UnitOfWork, version: ProgramVersion, holder_id: uuid.UUID,
           basis: list[dict[str, Any]], *, now: datetime, by: uuid.UUID | None = None,
           approved_by: uuid.UUID | None = None) -> Certificate:  # fmt: skip
    cert = lifecycle.issue(
        uow,
        lifecycle.Issue(version=version, holder_id=holder_id, basis=basis, issued_by=by,
                        approved_by=approved_by),
        now=now,
    )  # fmt: skip
    announce.issued(uow, cert)
    return cert


def _request(uow: UnitOfWork, version: ProgramVersion, holder_id: uuid.UUID,
             basis: list[dict[str, Any]], now: datetime) -> PendingIssue:  # fmt: skip
    row = PendingIssue(
        tenant_id=uow.tenant, id=uuid.uuid4(), created_at=now, program_id=version.program_id,
        program_version_id=version.id, holder_id=holder_id, basis=basis, status="pending",
    )  # fmt: skip
    uow.add(row)
    try:
        with uow.session.begin_nested():
            uow.flush()
    except IntegrityError:  # the open request exists already (unique open)
        raise Conflict("an approval for this holder and program is open already") from None
    audit.record(
        uow,
        "certification.approval_requested",
        ("cert_pending", row.id),
        {"program_id": str(version.program_id), "program_version_id": str(version.id),
         "holder_id": str(holder_id), "attempts": sorted(attempts_of(basis))},
    )  # fmt: skip
    return row


def evaluate(
    uow: UnitOfWork,
    holder_id: uuid.UUID,
    *,
    now: datetime,
    by: uuid.UUID | None = None,
    program_ids: set[uuid.UUID] | None = None,
) -> list[Outcome]:
    """Issue, or queue for approval, every program the holder now meets and
    holds nothing for on the same results (module docstring). ``by``: the
    user who asked (a manual issue), None for the automatic trigger;
    ``program_ids``: only these programs."""
    _lock_holder(uow, holder_id)
    query = select(Program).where(Program.archived.is_(False)).order_by(Program.name)
    candidates = [p for p in uow.session.scalars(query)
                  if program_ids is None or p.id in program_ids]  # fmt: skip
    done: list[Outcome] = []
    progressed = True
    while progressed and candidates:
        progressed = False
        for program in list(candidates):
            version = programs.current_version(uow, program.id)
            found, why = assess(uow, version, holder_id, now)
            if why is not None:
                candidates.remove(program)
                continue
            if not found.met:
                continue  # a prerequisite issued in this evaluation may change that
            basis = list(found.basis)
            if lifecycle.definition_of(version).approval:
                row = _request(uow, version, holder_id, basis, now)
                done.append(Outcome(program.id, "pending", pending=row))
            else:
                cert = _issue(uow, version, holder_id, basis, now=now, by=by)
                done.append(Outcome(program.id, "issued", certificate=cert))
                progressed = True  # a prerequisite of another program may now be held
            candidates.remove(program)
    return done


def _locked_request(uow: UnitOfWork, pending_id: uuid.UUID) -> PendingIssue:
    row = uow.session.scalars(
        select(PendingIssue).where(PendingIssue.id == pending_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("no such approval request")
    if row.status != "pending":
        raise Conflict(f"this request was {row.status} already")
    return row


def approve(uow: UnitOfWork, pending_id: uuid.UUID, by: uuid.UUID, now: datetime) -> Certificate:
    """Issue the certificate a request waits for, naming the approver. The
    holder must still meet the version on the same results."""
    row = _locked_request(uow, pending_id)
    version = uow.session.get(ProgramVersion, (uow.tenant, row.program_version_id))
    assert version is not None  # kept by its foreign key
    _lock_holder(uow, row.holder_id)
    found = routes(uow, version, row.holder_id, now)
    wanted = attempts_of(row.basis)
    if not any(r.met and attempts_of(r.basis) == wanted for r in found):
        first = next((c.reason for c in found[0].checks if not c.met), "results_changed")
        raise Conflict(f"the holder no longer meets the program on these results ({first}):"
                       " reject the request", field="status")  # fmt: skip
    cert = _issue(uow, version, row.holder_id, list(row.basis), now=now, approved_by=by)
    row.status, row.decided_by, row.decided_at, row.certificate_id = "approved", by, now, cert.id
    uow.flush()
    audit.record(uow, "certification.approved", ("cert_pending", row.id),
                 {"certificate_id": str(cert.id), "number": cert.number})  # fmt: skip
    return cert


def reject(uow: UnitOfWork, pending_id: uuid.UUID, by: uuid.UUID, reason: str,
           now: datetime) -> PendingIssue:  # fmt: skip
    """Close a request without a certificate; its results issue nothing later."""
    reason = reason.strip()
    if not reason:
        raise Invalid("say why the request is rejected", field="reason")
    if len(reason) > 1000:
        raise Invalid("the reason is at most 1000 characters", field="reason")
    row = _locked_request(uow, pending_id)
    row.status, row.decided_by, row.decided_at, row.reason = "rejected", by, now, reason
    uow.flush()
    # The reason stays in the row (staff's words about the holder, which the
    # retention purge removes with their identity); the log names the request.
    audit.record(uow, "certification.rejected", ("cert_pending", row.id),
                 {"program_id": str(row.program_id), "holder_id": str(row.holder_id)})  # fmt: skip
    return row


def archive(uow: UnitOfWork, program_id: uuid.UUID, archived: bool = True) -> Program:
    """Archive a program (nothing more is issued under it; its certificates
    stay as they are) or bring it back."""
    program = programs.get(uow, program_id)
    if program.archived != archived:
        program.archived = archived
        uow.flush()
        audit.record(uow, "certification.program_archived" if archived
                     else "certification.program_restored", ("cert_program", program.id),
                     {"name": program.name})  # fmt: skip
    return program


def why_not(uow: UnitOfWork, version: ProgramVersion, holder_id: uuid.UUID,
            now: datetime) -> str:  # fmt: skip
    """Why evaluating the holder for ``version`` issues nothing, in words
    naming the reason code (the first unmet requirement, else the block)."""
    found, why = assess(uow, version, holder_id, now)
    unmet = next((c for c in found.checks if not c.met), None)
    if why is None and unmet is not None:
        return f"the holder does not meet the program: {unmet.kind} {unmet.subject}: {unmet.reason}"
    return f"nothing more is issued on these results: {why or 'same_results'}"
