"""Demo shortlist (``invigil demo``): in the tenant that has the graded essay
cohort (:mod:`invigil.results.demo`, ``acme``), a position, "Support
engineer", grouping the demo exams; a rule set; one completed run over the
45 candidates of ``essay-demo`` (the ones still waiting for a grader are
listed as excluded: not final yet); and a few stage moves by
``shortlister@<slug>.test``. Idempotent: a tenant that has the rule set is
left alone.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from invigil.content import exams
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.identity import service as identity
from invigil.results.demo import EXAM, TENANTS
from invigil.shortlists import service, stages
from invigil.shortlists.models import RuleSet

POSITION = "Support engineer"
RULE_SET = "Support engineer: first round"
EXAMS = (EXAM, "standard-demo", "practice-demo")
RULES = {
    "min_percent": "50",
    "min_category_percent": {"Writing": "40"},
    "pass_required": False,
    "integrity_allowed": ["clear", "cleared"],
    "max_minutes": 60,
    "top_n": 12,
    "tie_breaks": ["category:Writing", "shorter_time", "earlier_submission"],
}
MOVES = ((1, "interview", "Clear, well argued essays."), (1, "offer", ""),
         (2, "interview", ""), (3, "rejected", "Chose the two above."))  # fmt: skip


def seed_shortlist(db: Database, tenant_id: uuid.UUID, slug: str) -> bool:
    """The position, rule set, run and moves; False when already there (or
    in a tenant without the essay cohort)."""
    if slug not in TENANTS:
        return False
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if uow.scalar(select(RuleSet.id).where(RuleSet.name == RULE_SET)) is not None:
            return False
        found = [exams.find_by_slug(uow, s) for s in EXAMS]
        ids = [e.id for e in found if e is not None]
        essay = exams.find_by_slug(uow, EXAM)
        user = identity.find_by_email(uow, f"shortlister@{slug}.test")
        if essay is None or user is None:
            return False
        uow.actor = Actor("user", str(user.id))
        position = service.save_position(
            uow, POSITION, "First-line support for the engineering teams.", ids
        )
        rule_set, _ = service.create_rule_set(uow, RULE_SET, RULES, position.id)
        run = service.create_run(uow, rule_set.id, exam_ids=[essay.id])
        ranked = {e.rank: e.attempt_id for e in service.entries(uow, run.id) if e.rank}
        for rank, stage, note in MOVES:
            if rank in ranked:
                stages.move(uow, run.id, ranked[rank], stage, note)
    return True
