"""Appending to the audit log, in the caller's transaction.

``record(uow, action, subject, payload)`` is the only way in. The entry is
an RFC 8785 canonical JSON document: version, tenant, sequence number,
database-clock timestamp, actor, action, subject, payload and the previous
entry's leaf hash (a chain that pinpoints the first altered entry). Its leaf
hash is SHA-256(0x00 || entry), a leaf of the tenant's RFC 9162 Merkle tree.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert, text

from invigil.audit.canonical import canonical_json
from invigil.audit.merkle import leaf_hash
from invigil.audit.models import AuditEvent
from invigil.db.uow import UnitOfWork

ENTRY_VERSION = 1
GENESIS = bytes(32)  # the "previous leaf" of entry 0

Subject = tuple[str, Any]

_NEXT = text(
    "INSERT INTO audit_heads (tenant_id, next_seq) VALUES (:tenant, 1)"
    " ON CONFLICT (tenant_id) DO UPDATE SET next_seq = audit_heads.next_seq + 1"
    " RETURNING next_seq - 1 AS seq, last_leaf, clock_timestamp() AS at"
)
_ADVANCE = text("UPDATE audit_heads SET last_leaf = :leaf WHERE tenant_id = :tenant")


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jsonable(value: Any) -> Any:
    """Payload values as JSON types (ids and times as strings)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def subject_of(subject: object) -> tuple[str, str]:
    """A model instance (its table name, singular, and id) or a (type, id) pair."""
    if isinstance(subject, tuple):
        kind, ident = subject
        return str(kind), str(ident)
    table = getattr(subject, "__tablename__", None)
    ident = getattr(subject, "id", None)
    if table is None or ident is None:
        raise TypeError(f"cannot audit {subject!r}: pass a model or a (type, id) pair")
    return str(table).removesuffix("s"), str(ident)


def build_entry(*, tenant: uuid.UUID, seq: int, event_id: uuid.UUID, at: datetime,
                actor_kind: str, actor_id: str, action: str, subject_type: str,
                subject_id: str, payload: Mapping[str, Any], prev: bytes) -> dict[str, Any]:
    return {
        "v": ENTRY_VERSION,
        "tenant": str(tenant),
        "seq": seq,
        "id": str(event_id),
        "at": timestamp(at),
        "actor": {"kind": actor_kind, "id": actor_id},
        "action": action,
        "subject": {"type": subject_type, "id": subject_id},
        "payload": jsonable(payload),
        "prev": prev.hex(),
    }


def record(uow: UnitOfWork, action: str, subject: object,
           payload: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append one entry in the caller's transaction; it commits or rolls back
    with the change it describes."""
    subject_type, subject_id = subject_of(subject)
    head = uow.session.execute(_NEXT, {"tenant": uow.tenant}).one()
    event_id = uuid.uuid4()
    entry = build_entry(
        tenant=uow.tenant, seq=head.seq, event_id=event_id, at=head.at,
        actor_kind=uow.actor.kind, actor_id=uow.actor.id, action=action,
        subject_type=subject_type, subject_id=subject_id, payload=payload or {},
        prev=head.last_leaf or GENESIS,
    )
    data = canonical_json(entry)
    if canonical_json(json.loads(data)) != data:  # e.g. a float too large to stay a float
        raise ValueError(f"audit payload for {action} does not survive a JSON round trip")
    leaf = leaf_hash(data)
    values = dict(
        tenant_id=uow.tenant, seq=head.seq, id=event_id, occurred_at=head.at,
        actor_kind=uow.actor.kind, actor_id=uow.actor.id, action=action,
        subject_type=subject_type, subject_id=subject_id, payload=entry["payload"],
        entry=data.decode(), leaf_hash=leaf,
    )
    uow.session.execute(insert(AuditEvent).values(**values))
    uow.session.execute(_ADVANCE, {"leaf": leaf, "tenant": uow.tenant})
    return AuditEvent(**values)
