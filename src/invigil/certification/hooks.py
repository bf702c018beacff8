"""What the certification domain registers at start-up: the evidence bundle
of a certificate (:mod:`invigil.certification.bundle`, kind ``certificate``)
with the finder that says who may ask for one; and a listener on each
moment a result may become final — an attempt submitted and scored with
nothing to grade (delivery), grading issuing a revision (all marks final,
or a regrade: results), a reviewer deciding an attempt's integrity outcome
(proctoring) — that defers the job evaluating the holder
(:mod:`invigil.certification.jobs`) in that same transaction, when some
program (any version) names the attempt's exam as a requirement or as its
recertification exam: a tenant without programs queues nothing. The job,
not the listener, does the work: a failure while evaluating never rolls
back grading, and the job sees only what committed."""

from __future__ import annotations

import uuid

from sqlalchemy import literal, or_, select

from invigil.audit import bundle, bundle_registry
from invigil.certification import jobs
from invigil.certification.models import ProgramVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import submission
from invigil.delivery.models import Attempt, AttemptResult
from invigil.errors import NotFound
from invigil.jobs import queue
from invigil.proctoring import outcomes
from invigil.results import graded

NAME = "certification.evaluate"


def counts(uow: UnitOfWork, exam_id: uuid.UUID) -> bool:
    """Some program version names ``exam_id`` (a requirement or the
    recertification exam)."""
    named = or_(
        ProgramVersion.definition["exam_ids"].contains([str(exam_id)]),
        ProgramVersion.definition["recert_exam_id"].astext == str(exam_id),
    )
    return uow.session.scalar(select(literal(1)).where(named).limit(1)) is not None


def defer_evaluation(uow: UnitOfWork, attempt: Attempt) -> int | None:
    """The job evaluating the attempt's candidate (its id), or None when no
    program names the exam."""
    if not counts(uow, attempt.exam_id):
        return None
    return uow.defer(jobs.TASK, queue=jobs.QUEUE, tenant_id=str(uow.tenant),
                     candidate_id=str(attempt.candidate_id))  # fmt: skip


def on_submitted(uow: UnitOfWork, attempt: Attempt, result: AttemptResult) -> None:
    if not result.needs_grading:  # else grading will say when it is final
        defer_evaluation(uow, attempt)


def on_graded(uow: UnitOfWork, attempt: Attempt, result: AttemptResult) -> None:
    defer_evaluation(uow, attempt)


def on_review(uow: UnitOfWork, attempt: Attempt) -> None:
    defer_evaluation(uow, attempt)


def install() -> None:
    bundle.register("certificate", build_certificate_bundle)
    bundle_registry.register_subject("certificate", certificate_subject)
    submission.register(NAME, on_submitted)
    graded.register(NAME, on_graded)
    outcomes.register(NAME, on_review)
    queue.register(jobs.add_tasks)


def build_certificate_bundle(
    uow: UnitOfWork, certificate_id: uuid.UUID, writer: bundle.BundleWriter, options: bundle.Options
) -> None:
    """The certificate's evidence bundle (imported on first use, like the others)."""
    from invigil.certification.bundle import build_certificate

    build_certificate(uow, certificate_id, writer, options)


def certificate_subject(uow: UnitOfWork, certificate_id: uuid.UUID) -> str:
    """A certificate as the subject of an evidence bundle. The bundle routes
    need result:view; a certificate is seen only by a user who also holds
    certificate:view, so a results viewer without it finds no certificate
    here, as no other tenant's is found (RLS). The build job and the command
    line (no user) see every certificate of their tenant. Named by its
    number (no holder's name)."""
    from invigil.certification.models import Certificate
    from invigil.identity import service as identity
    from invigil.security.permissions import Permission

    if uow.actor.kind == "user":
        held = identity.permissions_of(identity.roles_of(uow, uuid.UUID(uow.actor.id)))
        if Permission.CERTIFICATE_VIEW.value not in held:
            raise NotFound(f"certificate {certificate_id} was not found")
    cert = uow.get(Certificate, certificate_id, label="certificate")
    return f"certificate {cert.number}"
