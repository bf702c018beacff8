"""Submitted attempts for the release tests, written by the real services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, results
from invigil.delivery.demo import demo_answers
from invigil.delivery.landing import consent_text
from invigil.delivery.links import LinkKey
from invigil.delivery.models import Attempt, AttemptResult, Invitation
from invigil.proctoring import pipeline, reviews
from invigil.proctoring.models import ProctoringAction
from invigil.results import result_link
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import kit_for, make_invitation, published_exam
from tests.proctoring.test_pipeline import Chain, custom, rule

FLAGGING = custom(rule("tab-flag", "tab.hidden", "flag", severity="medium"))


@dataclass(frozen=True)
class Sat:
    tenant_id: uuid.UUID
    exam_id: uuid.UUID
    attempt_id: uuid.UUID
    invitation_id: uuid.UUID


def link_kit(settings: Settings, smtp: bool = True) -> result_link.Kit:
    keys = settings.keys_dir
    return result_link.Kit(
        LinkKey(keys / "guest-link.key"), SecretBox(keys / "secrets.key"), settings.issuer, 30, smtp
    )


def make_release_exam(
    db: Database, tenant_id: uuid.UUID, *, essay: bool = False, **settings: Any
) -> uuid.UUID:
    bank = make_bank(db, tenant_id)
    kinds = ["single_choice", "true_false", *(["essay"] if essay else [])]
    ids = [str(make_question(db, tenant_id, bank, kind)) for kind in kinds]
    base = {"shuffle_questions": False, "proctoring_preset": "practice", "pass_mark_percent": 50}
    return published_exam(
        db,
        tenant_id,
        sections=[{"kind": "fixed", "title": "Part one", "question_ids": ids}],
        settings=base | settings,
    )


def sit(
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    exam_id: uuid.UUID,
    *,
    flagged: bool = False,
    language: str | None = None,
) -> Sat:
    """Invite, start, answer (with a flagged tab switch when ``flagged``) and submit."""
    kit = kit_for(settings)
    changes: dict[str, Any] = {"language": language} if language else {}
    invitation = make_invitation(db, tenant_id, kit, exam_id, **changes).invitation
    now = datetime.now(UTC)
    with db.unit_of_work(tenant_id, Actor("candidate", "c-1")) as uow:
        version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
        text = consent_text(version)
        inv = uow.get(Invitation, invitation.id)
        attempt = attempts.start(
            uow, kit.key, inv, version, consent_text=text, consent_language="en",
            shown_sha256=attempts.text_sha256(text), shown_language="en",
            browser=attempts.Browser(address="test", user_agent="test"), now=now,
        ).attempt  # fmt: skip
        attempt.face_seen_at = now
        attempts.begin(uow, attempt, version, inv, now=now)
        attempts.save(uow, attempt, demo_answers(uow, attempt, 1.0), now=now)
        if flagged:
            chain = Chain(str(attempt.id))
            sent = [
                chain.message("tab.hidden", "start", now),
                chain.message("tab.hidden", "end", now + timedelta(seconds=5), ends=1),
            ]
            pipeline.ingest(uow, attempt, [pipeline.Message(**m) for m in sent], now)
        attempts.submit(uow, attempt, "candidate", now=now + timedelta(seconds=30))
        return Sat(tenant_id, exam_id, attempt.id, invitation.id)


def review(db: Database, tenant_id: uuid.UUID, reviewer: uuid.UUID, attempt_id: uuid.UUID,
           flag: str, outcome: str) -> None:  # fmt: skip
    """A reviewer decides the attempt's flag and records its outcome."""
    with db.unit_of_work(tenant_id, Actor("user", str(reviewer))) as uow:
        action = uow.scalar(
            select(ProctoringAction).where(ProctoringAction.attempt_id == attempt_id)
        )
        assert action is not None
        reviews.decide(uow, attempt_id, reviews.Decide("flag", flag, "seen", action_id=action.id))
    with db.unit_of_work(tenant_id, Actor("user", str(reviewer))) as uow:
        reviews.decide(uow, attempt_id, reviews.Decide("outcome", outcome, "decided"))


def grade(uow: UnitOfWork, attempt_id: uuid.UUID, points: str = "1.00") -> AttemptResult:
    """A new revision with every question graded, stored as grading stores
    its revisions (delivery/results.py ``_store``)."""
    attempt = uow.get(Attempt, attempt_id)
    last = results.latest_result(uow, attempt_id)
    assert last is not None
    document = dict(last.document)
    awarded = Decimal(document["awarded"])
    for q in document["questions"]:
        if q["needs_grading"]:
            q.update(awarded=points, needs_grading=False)
            awarded += Decimal(points)
    revision = last.revision + 1
    document |= {
        "revision": revision,
        "scored_by": "grader",
        "awarded": str(awarded.quantize(Decimal("0.01"))),
        "needs_grading": False,
        "pending_questions": 0,
    }
    return results._store(uow, attempt, revision, document)
