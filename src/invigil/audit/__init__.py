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
    from invigil.audit.log import Appended, Entry
    from invigil.audit.models import AuditEvent
    from invigil.db.uow import Actor, UnitOfWork


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


__all__ = ["record", "record_many"]
