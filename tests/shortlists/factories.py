"""Cohorts for the shortlists tests: attempts written directly, each with a
result revision holding what a run reads (percentage, pass, categories,
needs grading), and the integrity fields set as a policy or a reviewer
would leave them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from invigil.db.engine import Database
from invigil.delivery.models import Attempt, Invitation
from invigil.shortlists import service
from tests.results.cohort import T0, agree, invite, make_exam4, record


def exam(db: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    return make_exam4(db, tenant_id).id


def sit(
    db: Database,
    tenant_id: uuid.UUID,
    exam_id: uuid.UUID,
    percent: str,
    *,
    passed: bool | None = True,
    categories: dict[str, str] | None = None,
    minutes: int = 30,
    pending: bool = False,
    integrity: str = "clear",
    outcome: str | None = None,
    final: bool = False,
    submitted: bool = True,
    offset: int = 0,
) -> uuid.UUID:
    """One candidate's attempt (submitted ``offset`` minutes after the others)."""
    invitation_id = invite(db, tenant_id, exam_id)
    with db.unit_of_work(tenant_id) as uow:
        invitation = uow.get(Invitation, invitation_id)
        start = T0 + timedelta(minutes=offset)
        attempt = Attempt(
            id=uuid.uuid4(), tenant_id=tenant_id, invitation_id=invitation.id,
            candidate_id=invitation.candidate_id, exam_id=exam_id,
            exam_version=invitation.exam_version, number=1, seed=1, paper=[],
            status="submitted" if submitted else "in_progress", grace_seconds=30,
            started_at=start, submitted_at=start + timedelta(minutes=minutes) if submitted else None,
            submit_reason="candidate" if submitted else None, integrity=integrity,
            review_outcome=outcome, review_final=final,
        )  # fmt: skip
        uow.add(attempt)
        uow.flush()
        agree(uow, tenant_id, invitation.id, "given", attempt.id)
        if submitted:
            doc: dict[str, Any] = {
                "awarded": percent, "max": "100", "percent": percent,
                "passed": None if pending else passed, "needs_grading": pending,
                "categories": {k: {"percent": v, "awarded": v, "max": "100",
                                   "pending_grading": 0, "questions": 1, "passed": None}
                               for k, v in (categories or {}).items()},
                "questions": [],
            }  # fmt: skip
            record(db, tenant_id, attempt.id, 1, doc, uow=uow)
        return attempt.id


def rule_set(
    db: Database, tenant_id: uuid.UUID, rules: dict[str, Any], name: str | None = None
) -> uuid.UUID:
    with db.unit_of_work(tenant_id) as uow:
        made, _ = service.create_rule_set(uow, name or f"rules {uuid.uuid4().hex[:6]}", rules)
        return made.id


def ranked(db: Database, tenant_id: uuid.UUID, run_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The run's list as (position, attempt, rank, failed rule)."""
    with db.unit_of_work(tenant_id) as uow:
        return [
            (e.position, e.attempt_id, e.rank, e.failed["rule"] if e.failed else None)
            for e in service.entries(uow, run_id)
        ]


def pct(value: str) -> Decimal:
    return Decimal(value)


# One real object of a tenant per kind of id the shortlists routes take
# (the generated another-tenant tests: tests/identity/test_authorization.py).
def position_factory(db: Database, tenant: Any) -> str:
    e = exam(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        return str(service.save_position(uow, f"p {uuid.uuid4().hex[:6]}", "", [e]).id)


def rule_set_factory(db: Database, tenant: Any) -> str:
    return str(rule_set(db, tenant.id, {}))


def run_factory(db: Database, tenant: Any) -> str:
    e = exam(db, tenant.id)
    sit(db, tenant.id, e, "80.00")
    with db.unit_of_work(tenant.id) as uow:
        return str(
            service.create_run(uow, uuid.UUID(rule_set_factory(db, tenant)), exam_ids=[e]).id
        )
