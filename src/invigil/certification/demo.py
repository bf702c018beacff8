"""Demo certification programs (``invigil demo``): in the tenants with the
demo cohorts (:mod:`invigil.results.demo`), "Written communication" over
``essay-demo`` (issued automatically, 36 months: the graded essay cohort
always yields certificates) and "Platform fundamentals" over
``standard-demo`` (after an approver: its demo papers are drawn at random,
so whether one waits depends on the draw), set up by
``certification_manager@<slug>.test``; every candidate with a submitted
attempt of those exams is evaluated. Idempotent: a tenant that has the
first program is left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from invigil.certification import issuance, programs
from invigil.certification.definition import parse
from invigil.certification.models import Program
from invigil.content import exams
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.identity import service as identity
from invigil.results.demo import EXAM, TENANTS

FUNDAMENTALS = "Platform fundamentals"
WRITING = "Written communication"


def seed_programs(db: Database, tenant_id: uuid.UUID, slug: str,
                  now: datetime | None = None) -> bool:  # fmt: skip
    """The two programs and the evaluation of the demo candidates; False
    when already there (or in a tenant without the cohorts)."""
    if slug not in TENANTS:
        return False
    now = now or datetime.now(UTC)
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if uow.scalar(select(Program.id).where(Program.name == FUNDAMENTALS)) is not None:
            return False
        standard = exams.find_by_slug(uow, "standard-demo")
        essay = exams.find_by_slug(uow, EXAM)
        user = identity.find_by_email(uow, f"certification_manager@{slug}.test")
        if standard is None or essay is None or user is None:
            return False
        uow.actor = Actor("user", str(user.id))
        programs.create(uow, FUNDAMENTALS, parse({
            "exam_ids": [str(standard.id)], "validity_months": 24, "recert_window_days": 90,
            "approval": True, "description": "Knows the platform's fundamentals.",
            "criteria": "Passed the platform fundamentals exam with a clear integrity outcome.",
        }), user.id)  # fmt: skip
        programs.create(uow, WRITING, parse({
            "exam_ids": [str(essay.id)], "min_percent": 50, "validity_months": 36,
            "description": "Writes clear, well argued answers.",
        }), user.id)  # fmt: skip
        holders = set(uow.session.scalars(
            select(Attempt.candidate_id).where(Attempt.exam_id.in_([standard.id, essay.id]),
                                               Attempt.status == "submitted")))  # fmt: skip
        for holder_id in sorted(holders):
            issuance.evaluate(uow, holder_id, now=now)
        return True
