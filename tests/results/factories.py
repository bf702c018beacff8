"""Submitted attempts of an exam with essays, for the grading tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery import attempts
from invigil.delivery.attempts import Item
from invigil.delivery.demo import sit_down
from invigil.delivery.invitations import Kit
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import make_invitation, published_exam

ESSAY_ANSWER = "Remote work widens the pool of people a team can hire."


def graded_exam(
    db: Database, tenant_id: uuid.UUID, *, manual_credit: bool = True, **settings: Any
) -> uuid.UUID:
    """single choice (1 point), essay (10 points: rubric of 6 + 4), short
    text (2 points, manual credit), in this order."""
    bank = make_bank(db, tenant_id)
    choice = make_question(db, tenant_id, bank, "single_choice")
    essay = make_question(db, tenant_id, bank, "essay")
    short = make_question(
        db,
        tenant_id,
        bank,
        "short_text",
        body={
            "type": "short_text",
            "prompt": "Name the capital of Germany.",
            "accepted": ["Berlin"],
            "manual_credit": manual_credit,
        },
    )
    return published_exam(
        db,
        tenant_id,
        sections=[{"kind": "fixed", "question_ids": [str(choice), str(essay), str(short)]}],
        settings={
            "shuffle_questions": False,
            "shuffle_options": False,
            "proctoring_preset": "practice",
            "pass_mark_percent": 50,
        }
        | settings,
    )


def submitted(
    db: Database,
    tenant_id: uuid.UUID,
    kit: Kit,
    exam_id: uuid.UUID,
    answers: dict[int, Any] | None = None,
    *,
    submit: bool = True,
    **candidate: Any,
) -> uuid.UUID:
    """An attempt that answered ``answers`` (slot -> response) and was
    submitted; ``candidate``: the invitation's name, email, external_ref."""
    answers = answers if answers is not None else {0: 1, 1: ESSAY_ANSWER, 2: "Bonn, I think"}
    made = make_invitation(db, tenant_id, kit, exam_id, **candidate)
    invitation = made.invitation
    with db.unit_of_work(tenant_id, Actor("candidate", str(invitation.candidate_id))) as uow:
        began = datetime.now(UTC) - timedelta(minutes=30)
        browser = attempts.Browser(address="test", user_agent="pytest")
        attempt = sit_down(uow, kit, invitation, began, browser)
        items = [Item(i, r, n + 1, time_ms=1000) for n, (i, r) in enumerate(answers.items())]
        attempts.save(uow, attempt, items, now=began + timedelta(minutes=5))
        if submit:
            attempts.submit(uow, attempt, "candidate", now=began + timedelta(minutes=10))
        return attempt.id
