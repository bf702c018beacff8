"""Voiding an attempt: staff set an attempt aside (a technical failure, a
duplicate, another reason they write down) and its start is refunded.

A void is a record, never an edit (ADR 0050). The attempt, its answers,
its proctoring events and evidence and its audit trail stay exactly as
they were; one ``attempt_voids`` row says why, by whom and when, and names
the reversal that gave the start's credits back. The row is written once
(the database refuses a change and a second row for the same attempt),
hashed as a canonical document and anchored by the ``attempt.voided``
entry in the same transaction; ``invigil audit verify`` recomputes it.

A running attempt is submitted first, through the one submission path
(reason ``voided``): its answers are scored and its event stream sealed as
for any submission, and the player is refused from then on. An attempt not
begun yet cannot be voided: nothing was charged or scored, and the
candidate can still take it.

What a void means elsewhere: the attempt no longer counts against the
invitation's attempts allowed (the remedy for a technical failure is a new
attempt on the same link), and results statistics, item analysis,
shortlists and certification read past it (:func:`not_voided`,
:data:`NOT_VOIDED`); lists and pages show it as voided.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select

from invigil import audit
from invigil.audit.anchored import Source, stream
from invigil.audit.records import Record, anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, AttemptVoid
from invigil.errors import Conflict, Invalid, NotFound
from invigil.i18n import N_
from invigil.ledger import service as ledger

REASONS = ("technical_failure", "duplicate", "other")
# Marked N_ here, translated where a page shows them.
REASON_LABELS = {
    "technical_failure": N_("Technical failure"),
    "duplicate": N_("Duplicate"),
    "other": N_("Other"),
}
MAX_NOTE = 1000
ACTION = "attempt.voided"
KIND = "attempt_void"
SUBMIT_REASON = "voided"

# For raw SQL over ``attempts`` aliased ``a``: the attempt is not voided.
NOT_VOIDED = (
    "NOT EXISTS (SELECT 1 FROM attempt_voids voided "
    "WHERE voided.tenant_id = a.tenant_id AND voided.attempt_id = a.id)"
)


class AlreadyVoided(Conflict):
    slug = "already-voided"


class NotBegun(Conflict):
    slug = "not-started"


def not_voided(attempt: Any = Attempt) -> ColumnElement[bool]:
    """A condition on ``attempt`` (the Attempt entity or an alias of it):
    no void names it. The unique key (tenant, attempt) answers it."""
    return ~exists().where(
        AttemptVoid.tenant_id == attempt.tenant_id, AttemptVoid.attempt_id == attempt.id
    )


def of(uow: UnitOfWork, attempt_id: uuid.UUID) -> AttemptVoid | None:
    """The void of ``attempt_id``, if it was voided."""
    return uow.scalar(select(AttemptVoid).where(AttemptVoid.attempt_id == attempt_id))


def of_many(uow: UnitOfWork, attempt_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, AttemptVoid]:
    """The voids among ``attempt_ids`` (one query), by attempt."""
    ids = list(set(attempt_ids))
    if not ids:
        return {}
    rows = uow.scalars(select(AttemptVoid).where(AttemptVoid.attempt_id.in_(ids)))
    return {v.attempt_id: v for v in rows}


def void_document(row: AttemptVoid | Mapping[str, Any]) -> dict[str, Any]:
    """A void as its anchored document (the verifier rebuilds it from the row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    refund = get("refund_transfer_id")
    return {
        "id": str(get("id")),
        "attempt_id": str(get("attempt_id")),
        "reason": get("reason"),
        "note": get("note"),
        "status_before": get("status_before"),
        "voided_by": get("voided_by"),
        "voided_at": get("voided_at").astimezone(UTC).isoformat(),
        "refund_transfer_id": str(refund) if refund is not None else None,
    }


def _checked(reason: object, note: object) -> tuple[str, str]:
    if reason not in REASONS:
        raise Invalid("reason must be one of " + ", ".join(REASONS), field="reason")
    if not isinstance(note, str):
        raise Invalid("note must be text", field="note")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"the note has at most {MAX_NOTE} characters", field="note")
    if reason == "other" and not note:
        raise Invalid("say what happened: a void for another reason needs a note", field="note")
    return str(reason), note


@dataclass(frozen=True)
class Voided:
    void: AttemptVoid
    attempt: Attempt
    refund: ledger.Transferred | None


def void(
    uow: UnitOfWork,
    attempt_id: uuid.UUID,
    reason: str,
    note: str = "",
    *,
    now: datetime | None = None,
) -> Voided:
    """Void the attempt: refund its start, end it if it runs, record why.
    404 for an attempt not found (another tenant's too), 409 when it is
    voided already or has not begun, 422 naming a bad field."""
    from invigil.delivery import attempts

    now = now or datetime.now(UTC)
    attempt = uow.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
    if attempt is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    reason, note = _checked(reason, note)
    if of(uow, attempt.id) is not None:
        raise AlreadyVoided(f"attempt {attempt.id} is voided already: a void is recorded once")
    if attempt.status not in ("in_progress", "submitted"):
        raise NotBegun(
            "this attempt has not begun: nothing was charged or scored, and the candidate "
            "can still take it; there is nothing to void"
        )
    status_before = attempt.status
    refund, earlier = _refund(uow, attempt, reason, now)
    row = AttemptVoid(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        reason=reason,
        note=note,
        status_before=status_before,
        voided_by=f"{uow.actor.kind}:{uow.actor.id}"[:200],
        voided_at=now,
        refund_transfer_id=refund.id if refund is not None else None,
        sha256="",
    )
    row.sha256 = document_sha256(void_document(row))
    uow.add(row)
    uow.flush()
    if status_before == "in_progress":
        # The one submission path: scored, events sealed, listeners told; they
        # already see the void (certification, results release read past it).
        attempts.submit(uow, attempt, SUBMIT_REASON, now=now)
    payload: dict[str, Any] = {
        "void_id": row.id,
        "reason": reason,
        "status_before": status_before,
        "refund_transfer_id": row.refund_transfer_id,
        "refunded": refunded(refund),
        "anchor": anchor(KIND, row.sha256),
    }
    if earlier is not None:
        payload["charge_reversed_before"] = earlier.id
    audit.record(uow, ACTION, attempt, payload)
    return Voided(row, attempt, refund)


def refunded(refund: ledger.Transferred | None) -> int:
    """The credits a refund gave back (0 without one)."""
    if refund is None:
        return 0
    return sum(leg.amount for leg in refund.legs if leg.account == ledger.CREDITS)


def _refund(
    uow: UnitOfWork, attempt: Attempt, reason: str, now: datetime
) -> tuple[ledger.Transferred | None, ledger.Transferred | None]:
    """The reversal of the attempt's start charge, and a reversal made
    before (by hand in the ledger), which leaves nothing to refund."""
    charge = ledger.by_key(uow, f"charge:attempt:{attempt.id}")
    if charge is None:  # unmetered tenant, or a free start
        return None, None
    earlier = ledger.reversal_of(uow, charge.id)
    if earlier is not None:
        return None, earlier
    refund = ledger.reverse(
        uow,
        charge.id,
        f"attempt voided: {reason.replace('_', ' ')}",
        f"refund:attempt:{attempt.id}",
        now=now,
    )
    return refund, None


# -- verification -------------------------------------------------------------

_VOIDS = """
    SELECT id, attempt_id, reason, note, status_before, voided_by, voided_at,
           refund_transfer_id, sha256
    FROM attempt_voids ORDER BY attempt_id
"""
_FIELDS = ("id", "attempt_id", "reason", "note", "status_before", "voided_by", "voided_at",
           "refund_transfer_id", "sha256")  # fmt: skip


def _records(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
    for r in stream(uow, _VOIDS, {}, "records_voids"):
        row = dict(zip(_FIELDS, r, strict=True))
        document = void_document(row)
        yield Record(
            KIND,
            str(row["attempt_id"]),  # the entry that anchors it names the attempt
            "attempt",
            ACTION,
            document_sha256(document),
            body=document if keep else None,
            stated=row["sha256"],
        )


SOURCES = (Source(KIND, _records),)
