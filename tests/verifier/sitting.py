"""Attempts sat, marked and read back as an auditor receives them, for the
equivalence tests: every step goes through Invigil's own services (the
delivery demo's ``sit_down``, answer saving, submission, grading marks,
moderation, regrades), and the three documents and the recorded result
revisions go through RFC 8785 canonical JSON and back, as a bundle carries
them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from invigil.audit.canonical import canonical_json
from invigil.content.models import QuestionVersion
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery import attempts
from invigil.delivery.attempts import Item
from invigil.delivery.demo import sit_down
from invigil.delivery.invitations import Kit
from invigil.delivery.models import Attempt, AttemptResult
from invigil.results import sheet
from tests.delivery.factories import make_invitation

# A response in paper positions for a slot: (index, slot, stored body) -> response.
Responder = Callable[[int, dict[str, Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class Documents:
    exam: dict[str, Any]
    sheet: dict[str, Any]
    marks: list[dict[str, Any]]
    results: list[dict[str, Any]]  # every revision, oldest first

    @property
    def latest(self) -> dict[str, Any]:
        return self.results[-1]


def carried(value: Any) -> Any:
    """``value`` as a bundle carries it: canonical JSON, read back."""
    return json.loads(canonical_json(value))


def sit(
    db: Database,
    tenant_id: uuid.UUID,
    kit: Kit,
    exam_id: uuid.UUID,
    respond: Responder,
    *,
    language: str | None = None,
) -> uuid.UUID:
    """An attempt of ``exam_id`` answered by ``respond`` (None: left blank) and submitted."""
    invitation = make_invitation(db, tenant_id, kit, exam_id).invitation
    with db.unit_of_work(tenant_id, Actor("candidate", str(invitation.candidate_id))) as uow:
        began = datetime.now(UTC) - timedelta(minutes=30)
        browser = attempts.Browser(address="test", user_agent="pytest")
        attempt = sit_down(uow, kit, invitation, began, browser, language=language)
        ids = [uuid.UUID(s["version_id"]) for s in attempt.paper]
        bodies = {
            str(v.id): v.body
            for v in uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
        }
        items = []
        for index, slot in enumerate(attempt.paper):
            response = respond(index, slot, bodies[slot["version_id"]])
            if response is not None:
                items.append(Item(index, response, len(items) + 1, time_ms=1000 + index))
        saved = attempts.save(uow, attempt, items, now=began + timedelta(minutes=5))
        assert saved is not None
        attempts.submit(uow, attempt, "candidate", now=began + timedelta(minutes=10))
        return attempt.id


def documents(db: Database, tenant_id: uuid.UUID, attempt_id: uuid.UUID) -> Documents:
    with db.unit_of_work(tenant_id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        assert attempt is not None
        found = Documents(
            sheet.exam_document(uow, attempt),
            sheet.answer_sheet(uow, attempt),
            sheet.marks_document(uow, attempt),
            [
                r.document
                for r in uow.scalars(
                    select(AttemptResult)
                    .where(AttemptResult.attempt_id == attempt_id)
                    .order_by(AttemptResult.revision)
                )
            ],
        )
    return Documents(
        *(carried(part) for part in (found.exam, found.sheet, found.marks, found.results))
    )


def right_answer(slot: dict[str, Any], body: dict[str, Any]) -> Any:
    """The right response in paper positions (a text for an essay)."""
    order = list(slot["option_order"])
    kind = body["type"]
    if kind == "single_choice":
        return order.index(body["correct"])
    if kind == "multiple_choice":
        return [order.index(c) for c in body["correct"]]
    if kind in ("true_false",):
        return body["correct"]
    if kind == "numeric":
        return body["value"]
    if kind == "short_text":
        return body["accepted"][0]
    if kind == "essay":
        return "An essay of a few words."
    return [order.index(i) for i in range(len(order))]
