"""Retention objects for tests (and the FACTORIES of the generated
authorization tests); submitted attempts with evidence, events and answers,
for the purge tests."""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery import attempts
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, AttemptAnswer
from invigil.evidence import service
from invigil.evidence.service import Evidence
from invigil.proctoring.models import ProctoringEvent
from invigil.retention import holds, policy
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.delivery.factories import kit_for, make_invitation, published_exam
from tests.evidence.factories import jpeg


def hold_factory(db: Database, tenant: Tenant) -> str:
    """A legal hold in force on the whole of ``tenant``."""
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        return str(holds.place(uow, "tenant", None, "test hold").id)


def document(**changes: Any) -> dict[str, Any]:
    """The defaults as JSON with ``classes__evidence__keep_days=60``-style changes."""
    doc = copy.deepcopy(policy.DEFAULT.as_json())
    for path, value in changes.items():
        node = doc
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return doc


@dataclass(frozen=True)
class Sat:
    tenant: uuid.UUID
    attempt: uuid.UUID
    candidate: uuid.UUID
    exam: uuid.UUID
    email: str
    objects: list[uuid.UUID]
    submitted_at: datetime


def exam(db: Database, tenant: uuid.UUID, preset: str = "standard") -> uuid.UUID:
    return published_exam(db, tenant, settings={"proctoring_preset": preset})


def sit(
    db: Database,
    settings: Settings,
    tenant: uuid.UUID,
    evidence: Evidence,
    *,
    exam_id: uuid.UUID | None = None,
    email: str | None = None,
    objects: int = 1,
) -> Sat:
    """A candidate sits an exam: consent, a snapshot or two, an event with an
    address and a user agent, one answer, then submission (now)."""
    kit = kit_for(Settings(home=Path(settings.home) / f"kit-{uuid.uuid4().hex[:8]}"))
    email = email or f"c{uuid.uuid4().hex[:10]}@example.org"
    made = make_invitation(db, tenant, kit, exam_id or exam(db, tenant), email=email)
    with db.unit_of_work(tenant) as uow:
        invitation = made.invitation
        version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
        text = consent_text(version)
        started = attempts.start(
            uow, kit.key, invitation, version, consent_text=text, consent_language="en",
            shown_sha256=attempts.text_sha256(text), shown_language="en",
            browser=attempts.Browser(address="203.0.113.7", user_agent="Mozilla/5.0 Test"),
        )  # fmt: skip
        attempt = started.attempt
        attempt.face_seen_at = datetime.now(UTC)
        attempts.begin(uow, attempt, version, invitation)
        stored = [
            service.store(
                uow, evidence, subject_type="attempt", subject_id=str(attempt.id),
                kind_name="snapshot", data=[jpeg(4_000)],
            ).id
            for _ in range(objects)
        ]  # fmt: skip
        body = '{"kind":"focus.lost","ip":"203.0.113.7"}'
        uow.add(
            ProctoringEvent(
                tenant_id=tenant, attempt_id=attempt.id, seq=1, kind="focus.lost",
                phase="instant", at=datetime.now(UTC), details={"ip": "203.0.113.7",
                "user_agent": "Mozilla/5.0 Test"}, body=body, prev="0" * 64,
                hash=hashlib.sha256(body.encode()).hexdigest(),
            )
        )  # fmt: skip
        uow.add(
            AttemptAnswer(
                tenant_id=tenant, attempt_id=attempt.id, slot=0, response="my own words", seq=1
            )
        )
        uow.flush()
        attempts.submit(uow, uow.get(Attempt, attempt.id), "candidate")
        candidate = attempt.candidate_id
        submitted = uow.get(Attempt, attempt.id).submitted_at
        assert submitted is not None
    return Sat(tenant, attempt.id, candidate, invitation.exam_id, email, stored, submitted)


def count(db: Database, tenant: uuid.UUID, sql: str, **params: Any) -> int:
    from sqlalchemy import text

    with db.unit_of_work(tenant) as uow:
        return int(uow.session.execute(text(sql), params).scalar() or 0)
