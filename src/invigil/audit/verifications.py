"""Verification runs kept: each check of a tenant's log (and the records it
anchors) is one row of ``audit_verifications`` (migration 0054), so the
trust report states the latest result without re-reading the whole log on
every page load, and the history shows the log was checked every night.

Who runs them: the daily job and a tenant administrator's request (both in
:mod:`invigil.retention.jobs`, which knows every anchored source), and
``invigil trust report``. A failed run is also logged at error level
(``audit.verification_failed``) for the operator's alerting.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from invigil.audit.anchored import Source
from invigil.audit.models import Verification
from invigil.audit.service import verify_tenant
from invigil.db.uow import UnitOfWork
from invigil.logs import get_logger
from invigil.security.keys import KeyRing

log = get_logger(__name__)

TRIGGERS = ("schedule", "request", "command")
PROBLEM_CHARS = 2000


def run(
    uow: UnitOfWork,
    ring: KeyRing,
    sources: Sequence[Source],
    *,
    trigger: str,
    requested_by: uuid.UUID | None = None,
) -> Verification:
    """Verify the unit of work's tenant now and keep the outcome."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    started = datetime.now(UTC)
    report = verify_tenant(uow, ring, sources)
    problems = list(report.problems)
    records = report.records
    if records is not None:
        problems += records.problems
    count = len(report.problems) + (records.problem_count if records is not None else 0)
    ok = report.ok
    row = Verification(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        trigger=trigger,
        requested_by=requested_by if trigger == "request" else None,
        started_at=started,
        finished_at=max(datetime.now(UTC), started),
        entries=report.entries,
        checkpoints=report.checkpoints,
        anchored_records=records.anchored if records is not None else None,
        purged_records=sum(records.purged.values()) if records is not None else None,
        ok=ok,
        problems=0 if ok else max(count, 1),
        first_bad_seq=report.first_bad_seq,
        first_problem=None if ok else (problems[0] if problems else "not intact")[:PROBLEM_CHARS],
    )
    uow.add(row)
    uow.flush()
    if not ok:
        log.error(
            "audit.verification_failed",
            tenant=str(uow.tenant),
            trigger=trigger,
            first_bad_seq=report.first_bad_seq,
            first_problem=row.first_problem,
        )
    return row


def latest(uow: UnitOfWork) -> Verification | None:
    return uow.scalar(
        select(Verification)
        .order_by(Verification.finished_at.desc(), Verification.created_at.desc())
        .limit(1)
    )


def history(uow: UnitOfWork, limit: int = 30) -> list[Verification]:
    return uow.scalars(select(Verification).order_by(Verification.finished_at.desc()).limit(limit))
