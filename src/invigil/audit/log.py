"""Appending to the audit log, in the caller's transaction.

``record(uow, action, subject, payload)`` is the way in; ``record_many``
appends several entries in one statement, exactly as that many ``record``
calls would (bar the shared timestamp). The entry is
an RFC 8785 canonical JSON document: version, tenant, sequence number,
database-clock timestamp, actor, action, subject, payload and the previous
entry's leaf hash (a chain that pinpoints the first altered entry). Its leaf
hash is SHA-256(0x00 || entry), a leaf of the tenant's RFC 9162 Merkle tree.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from invigil.audit.canonical import canonical_json, plain_json
from invigil.audit.models import AuditEvent
from invigil.db.parameters import json_rows
from invigil.db.uow import Actor, UnitOfWork

ENTRY_VERSION = 1
GENESIS = bytes(32)  # the "previous leaf" of entry 0

Subject = tuple[str, Any]

# One entry: take the next position under the tenant's head row lock (which
# orders appends in commit order), let the database stamp its clock, chain the
# previous leaf and hash, and insert. See migration 0003 for audit_entry() and
# audit_leaf(). Written as two CTEs so that a statement that writes a record
# can append its entry too, in the same round trip (the ledger's transfer):
# ``{gate}`` is a condition on that statement's own CTEs (the record was
# written); the head row is locked only once the gate holds, so the record's
# own locks come first. Parameters are named ``audit_*`` (:func:`append_parameters`).
APPEND_CTES = """
    audit_head AS (
      UPDATE audit_heads AS h SET
        next_seq = h.next_seq + 1,
        last_prev = coalesce(h.last_leaf, %(audit_genesis)s),
        last_at = statement_timestamp(),
        last_leaf = audit_leaf(audit_entry(%(audit_head)s, statement_timestamp(),
                                           coalesce(h.last_leaf, %(audit_genesis)s), h.next_seq,
                                           %(audit_mid)s, %(audit_tail)s))
      WHERE h.tenant_id = %(audit_tenant)s AND ({gate})
      RETURNING next_seq - 1 AS seq, last_prev, last_at, last_leaf
    ),
    audit_appended AS (
      INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_kind, actor_id, action,
                                subject_type, subject_id, payload, entry, leaf_hash)
      SELECT %(audit_tenant)s, seq, %(audit_id)s, last_at, %(audit_actor_kind)s,
             %(audit_actor_id)s, %(audit_action)s, %(audit_subject_type)s, %(audit_subject_id)s,
             CAST(%(audit_payload)s AS jsonb),
             audit_entry(%(audit_head)s, last_at, last_prev, seq, %(audit_mid)s, %(audit_tail)s),
             last_leaf
      FROM audit_head
      RETURNING seq, occurred_at, entry, leaf_hash
    )
    """
_APPEND = (
    "WITH"
    + APPEND_CTES.replace("{gate}", "true")
    + "SELECT seq, occurred_at, entry, leaf_hash FROM audit_appended"
)
# Several entries in one statement, built and hashed by the same functions:
# lock the head row (FOR UPDATE waits for a concurrent append and then reads
# its result, as the UPDATE above does), chain the entries in order (each
# "prev" is the leaf before it), move the head past the last one, insert them
# all. They share the statement's timestamp; each names its actor.
_APPEND_MANY = """
    WITH RECURSIVE items AS (
      SELECT * FROM json_to_recordset(%(items)s::json)
        AS i(n bigint, head text, mid text, tail text, id uuid, actor_kind text, actor_id text,
             action text, subject_type text, subject_id text, payload text)
    ),
    head AS (
      SELECT h.next_seq, coalesce(h.last_leaf, %(genesis)s) AS leaf, statement_timestamp() AS at
      FROM audit_heads AS h WHERE h.tenant_id = %(tenant)s
      FOR UPDATE
    ),
    parts AS MATERIALIZED (  -- each step takes its entry's parts by position, not by a join
      SELECT array_agg(i.head ORDER BY i.n) AS heads, array_agg(i.mid ORDER BY i.n) AS mids,
             array_agg(i.tail ORDER BY i.n) AS tails, count(*) AS total
      FROM items AS i
    ),
    chain (n, seq, prev, entry, leaf) AS (
      SELECT 0::bigint, head.next_seq - 1, NULL::bytea, NULL::text, head.leaf FROM head
      UNION ALL
      SELECT c.n + 1, c.seq + 1, c.leaf, e.entry, audit_leaf(e.entry)
      FROM chain AS c
      CROSS JOIN parts AS p
      CROSS JOIN head
      CROSS JOIN LATERAL (
        SELECT audit_entry(p.heads[c.n + 1], head.at, c.leaf, c.seq + 1, p.mids[c.n + 1],
                           p.tails[c.n + 1]) AS entry
      ) AS e
      WHERE c.n < p.total
    ),
    last AS (SELECT seq, prev, leaf FROM chain WHERE n > 0 ORDER BY n DESC LIMIT 1),
    moved AS (
      UPDATE audit_heads AS h SET
        next_seq = last.seq + 1,
        last_prev = last.prev,
        last_at = head.at,
        last_leaf = last.leaf
      FROM last, head
      WHERE h.tenant_id = %(tenant)s
    )
    INSERT INTO audit_events (tenant_id, seq, id, occurred_at, actor_kind, actor_id, action,
                              subject_type, subject_id, payload, entry, leaf_hash)
    SELECT %(tenant)s, c.seq, i.id, head.at, i.actor_kind, i.actor_id, i.action,
           i.subject_type, i.subject_id, CAST(i.payload AS jsonb), c.entry, c.leaf
    FROM chain AS c JOIN items AS i ON i.n = c.n CROSS JOIN head
    ORDER BY c.n
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
    return (
        _head(action, actor_kind, actor_id),
        _mid(event_id, canonical_json(payload)),
        _tail(subject_type, subject_id, tenant),
    )


def _head(action: str, actor_kind: str, actor_id: str) -> str:
    actor = canonical_json({"kind": actor_kind, "id": actor_id})
    return (b'{"action":' + canonical_json(action) + b',"actor":' + actor + b',"at":"').decode()


def _mid(event_id: uuid.UUID, payload: bytes) -> str:
    """``payload``: the payload as canonical JSON."""
    ident = canonical_json(str(event_id))
    return (b'","id":' + ident + b',"payload":' + payload + b',"prev":"').decode()


def _tail(subject_type: str, subject_id: str, tenant: uuid.UUID) -> str:
    c = canonical_json
    return (
        b',"subject":'
        + c({"type": subject_type, "id": subject_id})
        + b',"tenant":'
        + c(str(tenant))
        + b',"v":'
        + c(ENTRY_VERSION)
        + b"}"
    ).decode()


def entry_text(head: str, mid: str, tail: str, *, at: datetime, prev: bytes, seq: int) -> str:
    """The entry the database's ``audit_entry()`` builds, built here: for tools
    that write entries in bulk (benchmarks) and for tests that hold the two equal."""
    return f'{head}{timestamp(at)}{mid}{prev.hex()}","seq":{seq}{tail}'


@dataclass(frozen=True)
class _Prepared:
    """An entry before the database decides its time, position and chain link."""

    event_id: uuid.UUID
    actor: Actor
    action: str
    subject_type: str
    subject_id: str
    payload: Any
    encoded: str
    head: str
    mid: str
    tail: str


def _prepare(
    uow: UnitOfWork,
    action: str,
    subject: object,
    payload: Mapping[str, Any] | None,
    heads: dict[tuple[str, Actor], str] | None = None,
    tails: dict[tuple[str, str], str] | None = None,
    actor: Actor | None = None,
) -> _Prepared:
    """The entry's parts, by ``actor`` (default: the unit of work's);
    ``heads`` and ``tails`` keep those of a batch that repeat (same action
    and actor, same subject)."""
    subject_type, subject_id = subject_of(subject)
    body: Any = payload or {}
    encoded = plain_json(body) if _flat(body) else None  # JSON types already: as given
    if encoded is None:
        body = jsonable(body)
        encoded = canonical_json(body)
        if _has_float(body) and canonical_json(json.loads(encoded)) != encoded:
            raise ValueError(f"audit payload for {action} does not survive a JSON round trip")
    event_id = uuid.uuid4()
    heads = {} if heads is None else heads
    tails = {} if tails is None else tails
    actor = actor or uow.actor
    head = heads.get((action, actor))
    if head is None:
        head = heads[action, actor] = _head(action, actor.kind, actor.id)
    tail = tails.get((subject_type, subject_id))
    if tail is None:
        tail = tails[subject_type, subject_id] = _tail(subject_type, subject_id, uow.tenant)
    return _Prepared(
        event_id,
        actor,
        action,
        subject_type,
        subject_id,
        body,
        encoded.decode(),
        head,
        _mid(event_id, encoded),
        tail,
    )


def _flat(payload: Mapping[str, Any]) -> bool:
    """Whether a payload is already what :func:`jsonable` would make of it
    (most are): a dict of strings, ints, booleans, None, and lists of them
    or objects of them keyed by strings (a ledger transfer's legs). Floats go
    the long way (the round trip check), as do ids, times, tuples, sets and
    deeper objects (converted)."""
    if type(payload) is not dict:
        return False
    for v in payload.values():
        t = type(v)
        if t is list:
            if not all(type(x) in _SCALARS for x in v):
                return False
        elif t is dict:
            if not all(type(k) is str and type(x) in _SCALARS for k, x in v.items()):
                return False
        elif t not in _SCALARS:
            return False
    return True


_SCALARS = frozenset({str, int, bool, type(None)})


def _has_float(value: Any) -> bool:
    """Whether a payload holds a float: only a float can fail to come back
    from its canonical JSON as itself (1e20 is written 100000000000000000000
    and read back as an int too large for JSON, which canonical_json refuses).
    Strings, ints in range, booleans, null, lists and objects of them always
    do, so the round trip is checked only for payloads with floats."""
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _event(uow: UnitOfWork, p: _Prepared, row: Sequence[Any]) -> AuditEvent:
    seq, occurred_at, entry, leaf = row
    return AuditEvent(
        tenant_id=uow.tenant,
        seq=seq,
        id=p.event_id,
        occurred_at=occurred_at,
        actor_kind=uow.actor.kind,
        actor_id=uow.actor.id,
        action=p.action,
        subject_type=p.subject_type,
        subject_id=p.subject_id,
        payload=p.payload,
        entry=entry,
        leaf_hash=bytes(leaf),
    )


def append_parameters(
    uow: UnitOfWork, action: str, subject: object, payload: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], Callable[[Sequence[Any]], AuditEvent]]:
    """The ``audit_*`` parameters of :data:`APPEND_CTES` for one entry, and
    what makes the stored entry of its returned row (seq, occurred_at,
    entry, leaf_hash)."""
    p = _prepare(uow, action, subject, payload)
    params = {
        "audit_tenant": uow.tenant,
        "audit_genesis": GENESIS,
        "audit_head": p.head,
        "audit_mid": p.mid,
        "audit_tail": p.tail,
        "audit_payload": p.encoded,
        "audit_id": p.event_id,
        "audit_actor_kind": uow.actor.kind,
        "audit_actor_id": uow.actor.id,
        "audit_action": p.action,
        "audit_subject_type": p.subject_type,
        "audit_subject_id": p.subject_id,
    }
    return params, lambda row: _event(uow, p, row)


def start_chain(uow: UnitOfWork) -> None:
    """Create the tenant's head row if its first entry is still to come
    (an append finds no head row until then)."""
    uow.driver().cursor().execute(_START, {"tenant": uow.tenant})


def record(
    uow: UnitOfWork, action: str, subject: object, payload: Mapping[str, Any] | None = None
) -> AuditEvent:
    """Append one entry in the caller's transaction; it commits or rolls back
    with the change it describes."""
    params, stored = append_parameters(uow, action, subject, payload)
    cursor = uow.driver().cursor()  # runs inside every audited change
    row = cursor.execute(_APPEND, params).fetchone()
    if row is None:
        start_chain(uow)
        row = cursor.execute(_APPEND, params).fetchone()
    assert row is not None
    return stored(row)


Entry = tuple[str, object, Mapping[str, Any] | None]  # action, subject, payload


@dataclass(frozen=True, slots=True)
class Appended:
    """An entry :func:`record_many` appended: the stored row's values, without
    the cost of an ORM object (it runs for nearly every proctoring batch)."""

    seq: int
    id: uuid.UUID
    occurred_at: datetime
    actor: Actor
    action: str
    subject_type: str
    subject_id: str
    payload: Any
    entry: str
    leaf_hash: bytes


def record_many(
    uow: UnitOfWork, entries: Sequence[Entry], actors: Sequence[Actor] | None = None
) -> list[Appended]:
    """Append ``entries`` in this order, in one round trip: the same entries,
    sequence numbers and chain as one :func:`record` call each, except that
    they share one timestamp (the statement's). ``actors``, when given, names
    each entry's actor (one transaction writing for several candidates);
    else the unit of work's actor is every entry's."""
    if actors is not None and len(actors) != len(entries):
        raise ValueError("record_many: one actor per entry")
    heads: dict[tuple[str, Actor], str] = {}
    tails: dict[tuple[str, str], str] = {}
    who = actors or [uow.actor] * len(entries)
    prepared = [
        _prepare(uow, a, s, p, heads, tails, actor)
        for (a, s, p), actor in zip(entries, who, strict=True)
    ]
    if not prepared:
        return []
    items = [
        {
            "n": n,
            "head": p.head,
            "mid": p.mid,
            "tail": p.tail,
            "id": str(p.event_id),
            "actor_kind": p.actor.kind,
            "actor_id": p.actor.id,
            "action": p.action,
            "subject_type": p.subject_type,
            "subject_id": p.subject_id,
            "payload": p.encoded,
        }
        for n, p in enumerate(prepared, start=1)
    ]
    params = {
        "tenant": uow.tenant,
        "genesis": GENESIS,
        "items": json_rows(items),
    }
    cursor = uow.driver().cursor()  # runs inside every audited change
    rows = cursor.execute(_APPEND_MANY, params).fetchall()
    if not rows:
        cursor.execute(_START, {"tenant": uow.tenant})
        rows = cursor.execute(_APPEND_MANY, params).fetchall()
    assert len(rows) == len(prepared)
    rows.sort(key=lambda r: r[0])
    return [
        Appended(seq, p.event_id, at, p.actor, p.action, p.subject_type, p.subject_id,
                 p.payload, entry, bytes(leaf))
        for p, (seq, at, entry, leaf) in zip(prepared, rows, strict=True)
    ]  # fmt: skip
