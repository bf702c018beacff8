"""A small crafted cohort for analytics tests: attempts and consents written
directly, each result document holding only what the analytics read (stored
as every revision is, with its cells and audit entry), so every figure can
be computed by hand."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from invigil.content.models import Exam
from invigil.db.engine import Database
from invigil.delivery import attempts, results
from invigil.delivery.models import Attempt, Candidate, Consent, Invitation
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import published_exam

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Exam4:
    """A published exam of four questions: A and B (single choice, category
    Geo), C (multiple choice) and D (single choice), both category Sci."""

    id: uuid.UUID
    questions: dict[str, str]  # "A" -> question id
    versions: dict[str, str]  # "A" -> version id
    types: dict[str, str]
    categories: dict[str, str] = field(default_factory=dict)


def make_exam4(db: Database, tenant_id: uuid.UUID, pass_mark: int = 60) -> Exam4:
    bank = make_bank(db, tenant_id)
    kinds = {
        "A": "single_choice",
        "B": "single_choice",
        "C": "multiple_choice",
        "D": "single_choice",
    }
    cats = {"A": "Geo", "B": "Geo", "C": "Sci", "D": "Sci"}
    ids = {
        k: str(make_question(db, tenant_id, bank, kind, category=cats[k], points=1))
        for k, kind in kinds.items()
    }
    exam_id = published_exam(
        db,
        tenant_id,
        sections=[{"kind": "fixed", "question_ids": list(ids.values())}],
        settings={"pass_mark_percent": pass_mark, "proctoring_preset": "practice"},
    )
    with db.unit_of_work(tenant_id) as uow:
        exam = uow.get(Exam, exam_id)
        version = attempts.version_of(uow, exam_id, exam.published_version)
        versions = {
            e["question_id"]: e["version_id"] for s in version.sections for e in s["questions"]
        }
    return Exam4(exam_id, ids, {k: versions[v] for k, v in ids.items()}, dict(kinds), dict(cats))


def cell(
    exam: Exam4,
    key: str,
    awarded: float | None,
    chosen: Any = None,
    time_ms: int = 1000,
    max_: float = 1,
    kind: str | None = None,
) -> dict[str, Any]:
    return {
        "question_id": exam.questions.get(key, str(uuid.uuid5(uuid.NAMESPACE_OID, key))),
        "version_id": exam.versions.get(key, str(uuid.uuid5(uuid.NAMESPACE_OID, key + "v"))),
        "type": kind or exam.types.get(key, "essay"),
        "category": exam.categories.get(key, "Writing"),
        "awarded": None if awarded is None else f"{awarded:.2f}",
        "max": f"{max_:.2f}",
        "needs_grading": awarded is None,
        "time_ms": time_ms,
        "response": chosen,
        "canonical_response": chosen,
    }


def document(cells: list[dict[str, Any]], pass_mark: int = 60) -> dict[str, Any]:
    pending = any(c["awarded"] is None for c in cells)
    awarded = sum(Decimal(c["awarded"]) for c in cells if c["awarded"] is not None)
    top = sum(Decimal(c["max"]) for c in cells)
    percent = (awarded * 100 / top).quantize(Decimal("0.01"))
    return {
        "awarded": str(awarded),
        "max": str(top),
        "percent": str(percent),
        "passed": None if pending else percent >= pass_mark,
        "needs_grading": pending,
        "questions": [dict(c, index=i) for i, c in enumerate(cells)],
    }


def invite(
    db: Database, tenant_id: uuid.UUID, exam_id: uuid.UUID, consent: str | None = None
) -> uuid.UUID:
    with db.unit_of_work(tenant_id) as uow:
        exam = uow.get(Exam, exam_id)
        candidate = Candidate(
            id=uuid.uuid4(), tenant_id=tenant_id, name="C", email=f"{uuid.uuid4().hex}@x.test"
        )
        uow.add(candidate)
        uow.flush()
        invitation = Invitation(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            candidate_id=candidate.id,
            exam_id=exam_id,
            exam_version=exam.published_version,
            opens_at=T0 - timedelta(days=1),
            closes_at=T0 + timedelta(days=30),
            created_by="test",
        )
        uow.add(invitation)
        uow.flush()
        if consent:
            agree(uow, tenant_id, invitation.id, consent, None)
        return invitation.id


def sit(
    db: Database,
    tenant_id: uuid.UUID,
    exam_id: uuid.UUID,
    cells: list[dict[str, Any]],
    minutes: int = 30,
) -> uuid.UUID:
    """An invited, consenting candidate's submitted attempt with its result."""
    invitation_id = invite(db, tenant_id, exam_id)
    with db.unit_of_work(tenant_id) as uow:
        invitation = uow.get(Invitation, invitation_id)
        attempt = Attempt(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            invitation_id=invitation.id,
            candidate_id=invitation.candidate_id,
            exam_id=exam_id,
            exam_version=invitation.exam_version,
            number=1,
            seed=1,
            paper=[{"question_id": c["question_id"]} for c in cells],
            status="submitted",
            grace_seconds=30,
            started_at=T0,
            submitted_at=T0 + timedelta(minutes=minutes),
            submit_reason="candidate",
        )
        uow.add(attempt)
        uow.flush()
        agree(uow, tenant_id, invitation.id, "given", attempt.id)
        record(db, tenant_id, attempt.id, 1, document(cells), uow=uow)
        return attempt.id


def record(
    db: Database,
    tenant_id: uuid.UUID,
    attempt_id: uuid.UUID,
    revision: int,
    doc: dict[str, Any],
    uow: Any = None,
) -> None:
    """Stored the way every result revision is (its cells and audit entry too)."""

    def add(u: Any) -> None:
        results._store(u, u.get(Attempt, attempt_id), revision, {"revision": revision, **doc})

    if uow is not None:
        add(uow)
        return
    with db.unit_of_work(tenant_id) as u:
        add(u)


def agree(
    uow: Any, tenant_id: uuid.UUID, invitation_id: uuid.UUID, decision: str, attempt: Any
) -> None:
    uow.add(
        Consent(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            invitation_id=invitation_id,
            attempt_id=attempt,
            decision=decision,
            text="consent",
            text_sha256=hashlib.sha256(b"consent").hexdigest(),
            language="en",
        )
    )
    uow.flush()
