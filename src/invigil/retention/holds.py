"""Legal holds: while a hold on a candidate, an exam or the whole tenant is
in force, nothing it covers is purged, whatever the policy says.

Placing a hold and lifting it are each a row written once, with a reason,
and an audit entry that anchors the row (``retention.hold_placed``,
``retention.hold_lifted``). A lifted hold stays in the history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select

from invigil import audit
from invigil.audit.records import anchor, document_sha256
from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, Invalid, NotFound
from invigil.retention.models import HoldLift, LegalHold

PLACED = "retention.hold_placed"
LIFTED = "retention.hold_lifted"
HOLD = "retention_hold"
LIFT = "retention_hold_lift"
SCOPES = ("candidate", "exam", "tenant")
MAX_REASON = 2000


def _reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        raise Invalid(f"reason must be 1-{MAX_REASON} characters", field="reason")
    return text


def _by(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:200]


def hold_document(row: LegalHold | Mapping[str, Any]) -> dict[str, Any]:
    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    subject = get("subject_id")
    return {
        "id": str(get("id")),
        "scope": get("scope"),
        "subject_id": str(subject) if subject is not None else None,
        "reason": get("reason"),
        "placed_by": get("placed_by"),
    }


def lift_document(row: HoldLift | Mapping[str, Any]) -> dict[str, Any]:
    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    return {
        "id": str(get("id")),
        "hold_id": str(get("hold_id")),
        "reason": get("reason"),
        "lifted_by": get("lifted_by"),
    }


@dataclass(frozen=True)
class Hold:
    id: uuid.UUID
    scope: str
    subject_id: uuid.UUID | None
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "scope": self.scope,
            "subject_id": str(self.subject_id) if self.subject_id else None,
            "reason": self.reason,
            "placed_by": self.placed_by,
            "placed_at": self.placed_at.isoformat(),
            "active": self.active,
            "lifted_at": self.lifted_at.isoformat() if self.lifted_at else None,
            "lifted_by": self.lifted_by,
            "lift_reason": self.lift_reason,
        }


def place(uow: UnitOfWork, scope: str, subject_id: uuid.UUID | None, reason: str) -> Hold:
    """Place a hold; the candidate or exam must exist in this tenant."""
    if scope not in SCOPES:
        raise Invalid(f"scope must be one of: {', '.join(SCOPES)}", field="scope")
    text = _reason(reason)
    if scope == "tenant":
        if subject_id is not None:
            raise Invalid("a hold on the whole organisation names no subject", field="subject_id")
    else:
        if subject_id is None:
            raise Invalid(f"name the {scope} to hold", field="subject_id")
        model = Candidate if scope == "candidate" else Exam
        if not uow.scalar(select(exists().where(model.id == subject_id))):
            raise NotFound(f"no such {scope}")
    row = LegalHold(
        id=uuid.uuid4(), tenant_id=uow.tenant, scope=scope, subject_id=subject_id,
        reason=text, placed_by=_by(uow), sha256="",
    )  # fmt: skip
    row.sha256 = document_sha256(hold_document(row))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        PLACED,
        (HOLD, row.id),
        {"scope": scope, "subject_id": subject_id, "anchor": anchor(HOLD, row.sha256)},
    )
    return get(uow, row.id)


def lift(uow: UnitOfWork, hold_id: uuid.UUID, reason: str) -> Hold:
    """Lift a hold in force (409 when it was lifted already)."""
    text = _reason(reason)
    # Two lifts of one hold at once: the second waits, then finds the first.
    uow.driver().cursor().execute(
        "SELECT pg_advisory_xact_lock(hashtext('retention_hold_lifts:' || %(h)s))",
        {"h": str(hold_id)},
    )
    row = uow.scalar(select(LegalHold).where(LegalHold.id == hold_id))
    if row is None:
        raise NotFound("no such hold")
    if uow.scalar(select(exists().where(HoldLift.hold_id == hold_id))):
        raise Conflict("this hold was lifted already")
    lifted = HoldLift(
        id=uuid.uuid4(), tenant_id=uow.tenant, hold_id=hold_id, reason=text,
        lifted_by=_by(uow), sha256="",
    )  # fmt: skip
    lifted.sha256 = document_sha256(lift_document(lifted))
    uow.add(lifted)
    uow.flush()
    audit.record(
        uow,
        LIFTED,
        (LIFT, lifted.id),
        {"hold_id": hold_id, "scope": row.scope, "anchor": anchor(LIFT, lifted.sha256)},
    )
    return get(uow, hold_id)


def _holds(uow: UnitOfWork, where: Iterable[Any] = ()) -> list[Hold]:
    stmt = (
        select(LegalHold, HoldLift)
        .outerjoin(HoldLift, HoldLift.hold_id == LegalHold.id)
        .where(*where)
        .order_by(LegalHold.created_at.desc(), LegalHold.id)
    )
    out = []
    for hold, lifted in uow.session.execute(stmt).all():
        out.append(
            Hold(
                hold.id,
                hold.scope,
                hold.subject_id,
                hold.reason,
                hold.placed_by,
                hold.created_at,
                lifted.created_at if lifted else None,
                lifted.lifted_by if lifted else None,
                lifted.reason if lifted else None,
            )
        )
    return out


def get(uow: UnitOfWork, hold_id: uuid.UUID) -> Hold:
    found = _holds(uow, [LegalHold.id == hold_id])
    if not found:
        raise NotFound("no such hold")
    return found[0]


def history(uow: UnitOfWork) -> list[Hold]:
    """Every hold, in force or lifted, newest first."""
    return _holds(uow)


@dataclass(frozen=True)
class InForce:
    """The holds in force at one moment, as the purge asks about them."""

    tenant: bool
    candidates: frozenset[uuid.UUID]
    exams: frozenset[uuid.UUID]

    def covers(
        self, *, candidate_id: uuid.UUID | None = None, exam_id: uuid.UUID | None = None
    ) -> bool:
        return (
            self.tenant
            or (candidate_id is not None and candidate_id in self.candidates)
            or (exam_id is not None and exam_id in self.exams)
        )


def in_force(uow: UnitOfWork) -> InForce:
    """The holds not lifted (read in the caller's transaction)."""
    rows = uow.session.execute(
        select(LegalHold.scope, LegalHold.subject_id).where(
            ~exists().where(HoldLift.hold_id == LegalHold.id)
        )
    ).all()
    return InForce(
        any(scope == "tenant" for scope, _ in rows),
        frozenset(s for scope, s in rows if scope == "candidate" and s is not None),
        frozenset(s for scope, s in rows if scope == "exam" and s is not None),
    )
