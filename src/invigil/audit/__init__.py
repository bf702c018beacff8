"""Audit: append-only log, Merkle tree, proofs, bundles.

Domains write through one function, in the transaction of their change::

    audit.record(uow, "exam.published", exam, {"version": 3})

``merkle``, ``canonical`` and ``verify`` need nothing but the standard
library and ``cryptography``: auditors can use them without the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uuid

    from invigil.audit.log import Appended, Entry
    from invigil.audit.models import AuditEvent
    from invigil.db.engine import Database
    from invigil.db.uow import Actor, UnitOfWork
    from invigil.errors import Refused

DENIED = "access.denied"


def record(
    uow: UnitOfWork, action: str, subject: object, payload: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one entry in the caller's transaction (see ``invigil.audit.log``)."""
    from invigil.audit.log import record as append

    return append(uow, action, subject, payload)


def record_many(
    uow: UnitOfWork, entries: Sequence[Entry], actors: Sequence[Actor] | None = None
) -> list[Appended]:
    """Append several (action, subject, payload) entries in one round trip, in
    order, in the caller's transaction, by the unit of work's actor or each by
    its own ``actors`` entry (see ``invigil.audit.log``)."""
    from invigil.audit.log import record_many as append_many

    return append_many(uow, entries, actors)


def record_refusal(uow: UnitOfWork, refused: Refused) -> None:
    """Keep a refusal in ``uow``, whose transaction commits although the
    refused change (in a savepoint) rolled back."""
    record(uow, DENIED, refused.subject, refused.payload)


def keep_refusal(db: Database, tenant_id: uuid.UUID, actor: Actor, refused: Refused) -> None:
    """Keep a refusal whose request transaction rolled back: in a unit of
    work of its own, by the same actor. If that fails too (the database is
    gone), the refusal still stands and the failure is logged."""
    from invigil.logs import get_logger

    try:
        with db.unit_of_work(tenant_id, actor) as uow:
            record_refusal(uow, refused)
    except Exception:
        get_logger(__name__).exception("audit.refusal_not_kept", **refused.payload)


__all__ = ["DENIED", "keep_refusal", "record", "record_many", "record_refusal"]
