"""Attempts with results, written straight into the tables: the results
view reads rows, however they came to be."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from invigil.db.engine import Database
from invigil.delivery.models import Attempt, AttemptResult, Candidate, Invitation
from invigil.proctoring.models import ProctoringAction, ReviewDecision

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def sitting(
    db: Database,
    tenant_id: uuid.UUID,
    exam_id: uuid.UUID,
    *,
    name: str = "Cand Idate",
    email: str | None = None,
    status: str = "submitted",
    results: list[dict[str, Any]] | None = None,
    minutes: int = 30,
    submitted: datetime | None = None,
    integrity: str = "clear",
    review_outcome: str | None = None,
    review_final: bool = False,
    flag_decided_by: uuid.UUID | None = None,
    number: int = 1,
) -> uuid.UUID:
    """One attempt (begun, submitted unless ``status`` says otherwise) with
    its result revisions in order (each: awarded, max, percent, passed,
    needs_grading)."""
    start = (submitted or T0) - timedelta(minutes=minutes)
    with db.unit_of_work(tenant_id) as uow:
        s = uow.session
        cand = Candidate(
            tenant_id=tenant_id,
            name=name,
            email=email or f"c{uuid.uuid4().hex[:10]}@example.org",
        )
        s.add(cand)
        s.flush()
        inv = Invitation(
            tenant_id=tenant_id,
            candidate_id=cand.id,
            exam_id=exam_id,
            exam_version=1,
            opens_at=start - timedelta(days=1),
            closes_at=start + timedelta(days=1),
            created_by="test",
        )
        s.add(inv)
        s.flush()
        attempt = Attempt(
            tenant_id=tenant_id,
            invitation_id=inv.id,
            candidate_id=cand.id,
            exam_id=exam_id,
            exam_version=1,
            number=number,
            seed=1,
            paper=[],
            status=status,
            grace_seconds=0,
            started_at=start,
            submitted_at=(submitted or T0) if status == "submitted" else None,
            submit_reason="candidate" if status == "submitted" else None,
            integrity=integrity,
            review_outcome=review_outcome,
            review_final=review_final,
        )
        s.add(attempt)
        s.flush()
        for revision, r in enumerate(results or [], start=1):
            s.add(
                AttemptResult(
                    tenant_id=tenant_id,
                    attempt_id=attempt.id,
                    revision=revision,
                    awarded=Decimal(str(r["awarded"])),
                    max_points=Decimal(str(r.get("max", 10))),
                    percent=Decimal(str(r.get("percent", Decimal(str(r["awarded"])) * 10))),
                    passed=r.get("passed"),
                    needs_grading=r.get("needs_grading", False),
                    document={"revision": revision},
                    document_sha256="0" * 64,
                )
            )
        if flag_decided_by is not None:
            action = ProctoringAction(
                tenant_id=tenant_id,
                attempt_id=attempt.id,
                rule_id="r",
                kind="focus.lost",
                severity="medium",
                action="flag",
                episode_seq=1,
                related=[1],
                message="",
            )
            s.add(action)
            s.flush()
            s.add(
                ReviewDecision(
                    tenant_id=tenant_id,
                    attempt_id=attempt.id,
                    reviewer_id=flag_decided_by,
                    scope="flag",
                    action_id=action.id,
                    decision="dismissed",
                    reason="looked",
                )
            )
        s.flush()
        return attempt.id
