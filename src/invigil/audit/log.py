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

from invigil.audit.canonical import canonical_json
from invigil.audit.models import AuditEvent
from invigil.db.uow import UnitOfWork

ENTRY_VERSION = 1
GENESIS = bytes(32)  # the "previous leaf" of entry 0

Subject = tuple[str, Any]

# One statement per entry: take the next position under the tenant's head row
# lock (which orders appends in commit order), let the database stamp its
# clock, chain the previous leaf and hash, and insert. See migration 0003 for
# audit_entry() and audit_leaf().
_APPEND = """
    WITH head AS (
      UPDATE audit_heads AS h SET
        next_seq = h.next_seq + 1,
        last_prev = coalesce(h.last_leaf, %(genesis)s),
        last_at = statement_timestamp(),
        last_leaf = audit_leaf(audit_entry(%(head)s, statement_timestamp(),
                                           coalesce(h.last_leaf, %(genesis)s), h.next_seq,
                                           %(mid)s, %(tail)s))
      WHERE h.tenant_id = %(tenant)s
      RETURNING next_seq - 1 AS seq, last_prev, last_at, last_leaf
    )
    INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_kind, actor_id, action,
                              subject_type, subject_id, payload, entry, leaf_hash)
    SELECT %(tenant)s, seq, %(id)s, last_at, %(actor_kind)s, %(actor_id)s, %(action)s,
           %(subject_type)s, %(subject_id)s, CAST(%(payload)s AS jsonb),
           audit_entry(%(head)s, last_at, last_prev, seq, %(mid)s, %(tail)s), last_leaf
    FROM head
    RETURNING seq, occurred_at, entry, leaf_hash
    """
# A tenant's first entry creates its head row (then the append runs again).
_START = "INSERT INTO audit_heads (tenant_id) VALUES (%(tenant)s) ON CONFLICT DO NOTHING"


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


def entry_parts(
    *,
    tenant: uuid.UUID,
    event_id: uuid.UUID,
    actor_kind: str,
    actor_id: str,
    action: str,
    subject_type: str,
    subject_id: str,
    payload: Mapping[str, Any],
) -> tuple[str, str, str]:
    """The canonical text of an entry around the three values the database
    decides: ``head`` + at + ``mid`` + prev + '","seq":' + seq + ``tail``."""
    c = canonical_json
    head = (
        b'{"action":'
        + c(action)
        + b',"actor":'
        + c({"kind": actor_kind, "id": actor_id})
        + b',"at":"'
    )
    mid = b'","id":' + c(str(event_id)) + b',"payload":' + c(payload) + b',"prev":"'
    tail = (
        b',"subject":'
        + c({"type": subject_type, "id": subject_id})
        + b',"tenant":'
        + c(str(tenant))
        + b',"v":'
        + c(ENTRY_VERSION)
        + b"}"
    )
    return head.decode(), mid.decode(), tail.decode()


def entry_text(head: str, mid: str, tail: str, *, at: datetime, prev: bytes, seq: int) -> str:
    """The entry the database's ``audit_entry()`` builds, built here: for tools
    that write entries in bulk (benchmarks) and for tests that hold the two equal."""
    return f'{head}{timestamp(at)}{mid}{prev.hex()}","seq":{seq}{tail}'


def record(
    uow: UnitOfWork, action: str, subject: object, payload: Mapping[str, Any] | None = None
) -> AuditEvent:
    """Append one entry in the caller's transaction; it commits or rolls back
    with the change it describes."""
    subject_type, subject_id = subject_of(subject)
    body = jsonable(payload or {})
    encoded = canonical_json(body)
    if canonical_json(json.loads(encoded)) != encoded:  # e.g. a float too large to stay one
        raise ValueError(f"audit payload for {action} does not survive a JSON round trip")
    event_id, kind, actor_id = uuid.uuid4(), uow.actor.kind, uow.actor.id
    head, mid, tail = entry_parts(
        tenant=uow.tenant,
        event_id=event_id,
        actor_kind=kind,
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=body,
    )
    params = {
        "tenant": uow.tenant,
        "genesis": GENESIS,
        "head": head,
        "mid": mid,
        "tail": tail,
        "payload": encoded.decode(),
        "id": event_id,
        "actor_kind": kind,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
    }
    # The driver's cursor directly: this runs inside every audited change, and
    # SQLAlchemy's per-call statement handling would cost more than the append.
    cursor = uow.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    row = cursor.execute(_APPEND, params).fetchone()
    if row is None:
        cursor.execute(_START, {"tenant": uow.tenant})
        row = cursor.execute(_APPEND, params).fetchone()
    assert row is not None
    seq, occurred_at, entry, leaf = row
    return AuditEvent(
        tenant_id=uow.tenant,
        seq=seq,
        id=event_id,
        occurred_at=occurred_at,
        actor_kind=kind,
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=body,
        entry=entry,
        leaf_hash=bytes(leaf),
    )
