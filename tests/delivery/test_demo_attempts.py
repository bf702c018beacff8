"""The demo's finished attempts: made through the candidate's own services,
scored, audited, and seeded once."""

from __future__ import annotations

from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.content.demo import seed_content
from invigil.delivery.demo import seed_attempts, seed_invitations
from invigil.delivery.models import Attempt, AttemptResult, Candidate, Consent
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for


def test_demo_attempts_are_finished_scored_and_seeded_once(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    kit = kit_for(settings)
    seed_content(db, tenant.id)
    seed_invitations(db, tenant.id, tenant.slug, kit)
    assert seed_attempts(db, tenant.id, tenant.slug, kit) is True
    assert seed_attempts(db, tenant.id, tenant.slug, kit) is False
    with db.unit_of_work(tenant.id) as uow:
        rows = uow.session.execute(
            select(Candidate.email, Attempt, AttemptResult)
            .join(Attempt, Attempt.candidate_id == Candidate.id)
            .join(AttemptResult, AttemptResult.attempt_id == Attempt.id)
        ).all()
        by = {email.split("@")[0]: (a, r) for email, a, r in rows}
        assert set(by) == {"ada.lovelace", "alan.turing"}
        ada, alan = by["ada.lovelace"], by["alan.turing"]
        assert ada[0].status == alan[0].status == "submitted"
        assert ada[1].percent > alan[1].percent
        # Ada answered every objective question right: only essays keep her below 100%.
        objective = [q for q in ada[1].document["questions"] if not q["needs_grading"]]
        assert objective and all(q["awarded"] == q["max"] for q in objective)
        assert len(uow.scalars(select(Consent))) == 2
        actions = uow.scalars(select(AuditEvent.action))
        assert actions.count("attempt.submitted") == actions.count("result.recorded") == 2
