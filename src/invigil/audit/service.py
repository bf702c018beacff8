"""Reading the log: filtered lists, one entry with its inclusion proof,
checkpoints and consistency proofs, whole-log verification and export."""

from __future__ import annotations

import base64
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select, text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from invigil.audit import checkpoints
from invigil.audit.anchored import Source, export_records, purged_records, verify_records
from invigil.audit.merkle import MerkleTree
from invigil.audit.models import AuditCheckpoint, AuditEvent
from invigil.audit.verify import CheckpointRecord, EntryRecord, Report, verify_log
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid, NotFound
from invigil.i18n import N_
from invigil.pagination import Keyset
from invigil.security.keys import KeyRing, public_jwk

EXPORT_FORMAT = "invigil-audit-export/v1"


@dataclass(frozen=True)
class Filters:
    action: str | None = None
    actor_kind: str | None = None
    actor_id: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(f: Filters) -> Select[AuditEvent]:
    stmt = select(AuditEvent)
    if f.action:
        # "auth.*" selects a family of actions
        stmt = stmt.where(
            AuditEvent.action.startswith(f.action[:-1])
            if f.action.endswith("*")
            else AuditEvent.action == f.action
        )
    for column, value in (
        (AuditEvent.actor_kind, f.actor_kind),
        (AuditEvent.actor_id, f.actor_id),
        (AuditEvent.subject_type, f.subject_type),
        (AuditEvent.subject_id, f.subject_id),
    ):
        if value:
            stmt = stmt.where(column == value)
    if f.since:
        stmt = stmt.where(AuditEvent.occurred_at >= f.since)
    if f.until:
        stmt = stmt.where(AuditEvent.occurred_at < f.until)
    return stmt


# The log's lists: newest first, by position in the log.
NEWEST = Keyset(AuditEvent.seq, parse=(int,), descending=True)


def list_events(
    uow: UnitOfWork, f: Filters, *, limit: int, before_seq: int | None
) -> tuple[list[AuditEvent], int | None]:
    """Newest first; ``before_seq`` continues a previous page."""
    stmt = _filtered(f).order_by(AuditEvent.seq.desc()).limit(limit + 1)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    rows = uow.scalars(stmt)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


def get_event(uow: UnitOfWork, event_id: uuid.UUID) -> AuditEvent:
    event = uow.scalar(select(AuditEvent).where(AuditEvent.id == event_id))
    if event is None:
        raise NotFound(f"audit entry {event_id} was not found")
    return event


def list_checkpoints(uow: UnitOfWork) -> list[AuditCheckpoint]:
    return uow.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size))


def checkpoint_at(uow: UnitOfWork, size: int) -> AuditCheckpoint:
    found = uow.scalar(select(AuditCheckpoint).where(AuditCheckpoint.tree_size == size))
    if found is None:
        raise NotFound(f"there is no checkpoint at tree size {size}")
    return found


class _TreeCache:
    """Trees of recent checkpoints, so proofs cost O(log n) after the first."""

    def __init__(self, capacity: int = 8) -> None:
        self._trees: OrderedDict[tuple[uuid.UUID, int], MerkleTree] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    def get(self, uow: UnitOfWork, size: int) -> MerkleTree:
        key = (uow.tenant, size)
        with self._lock:
            if key in self._trees:
                self._trees.move_to_end(key)
                return self._trees[key]
        leaves = list(
            uow.session.scalars(
                select(AuditEvent.leaf_hash).where(AuditEvent.seq < size).order_by(AuditEvent.seq)
            )
        )
        if len(leaves) != size:
            raise Invalid(
                f"the log has {len(leaves)} of the {size} entries this checkpoint "
                "covers; run `invigil audit verify`"
            )
        tree = MerkleTree(leaves)
        with self._lock:
            self._trees[key] = tree
            while len(self._trees) > self.capacity:
                self._trees.popitem(last=False)
        return tree


trees = _TreeCache()


def inclusion(uow: UnitOfWork, event: AuditEvent) -> dict[str, Any]:
    latest = checkpoints.latest(uow)
    if latest is None or event.seq >= latest.tree_size:
        return {
            "checkpoint": None,
            "proof": None,
            "reason": N_("not sealed yet: the next checkpoint will cover this entry"),
        }
    tree = trees.get(uow, latest.tree_size)
    if tree.root() != latest.root_hash:
        raise Invalid("the log does not match its latest checkpoint; run `invigil audit verify`")
    return {
        "checkpoint": checkpoint_out(latest),
        "proof": [h.hex() for h in tree.inclusion_proof(event.seq, latest.tree_size)],
    }


def consistency(uow: UnitOfWork, first: int, second: int) -> list[str]:
    if not 0 < first <= second:
        raise Invalid("first and second must be checkpoint sizes with 0 < first <= second")
    checkpoint_at(uow, first)
    checkpoint_at(uow, second)
    tree = trees.get(uow, second)
    return [h.hex() for h in tree.consistency_proof(first, second)]


def event_out(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "actor": {"kind": event.actor_kind, "id": event.actor_id},
        "action": event.action,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "payload": event.payload,
        "entry": event.entry,
        "leaf_hash": event.leaf_hash.hex(),
    }


def checkpoint_out(cp: AuditCheckpoint) -> dict[str, Any]:
    return {
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash.hex(),
        "sealed_at": cp.sealed_at,
        "key_id": cp.key_id,
        "signature": base64.b64encode(cp.signature).decode(),
        "note": cp.note,
    }


# Each entry's JSON is parsed once (OFFSET 0 keeps the planner from inlining
# the cast into every comparison) and only disagreements come back.
_COLUMN_MISMATCHES = text(
    """
    SELECT seq, col FROM (
      SELECT seq, CASE
          WHEN e->>'action' IS DISTINCT FROM action THEN 'action'
          WHEN e->'actor'->>'kind' IS DISTINCT FROM actor_kind THEN 'actor_kind'
          WHEN e->'actor'->>'id' IS DISTINCT FROM actor_id THEN 'actor_id'
          WHEN e->'subject'->>'type' IS DISTINCT FROM subject_type THEN 'subject_type'
          WHEN e->'subject'->>'id' IS DISTINCT FROM subject_id THEN 'subject_id'
          WHEN e->>'id' IS DISTINCT FROM id::text THEN 'id'
          WHEN e->>'at' IS DISTINCT FROM
               to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
               THEN 'occurred_at'
          WHEN e->'payload' IS DISTINCT FROM payload THEN 'payload'
        END AS col
      FROM (SELECT seq, action, actor_kind, actor_id, subject_type, subject_id, id,
                   occurred_at, payload, entry::jsonb AS e FROM audit_events OFFSET 0) AS x
    ) AS checked
    WHERE col IS NOT NULL
    """
)


def _column_mismatches(uow: UnitOfWork) -> dict[int, str]:
    """Columns that disagree with the signed entry, compared by the database."""
    try:
        with uow.session.begin_nested():
            rows = uow.session.execute(_COLUMN_MISMATCHES).all()
    except DataError:
        return {}  # an entry is not JSON at all: the entry check names it
    return {int(seq): str(col) for seq, col in rows}


def _records(uow: UnitOfWork) -> tuple[list[EntryRecord], list[CheckpointRecord]]:
    """Every entry as (seq, bytes, leaf) through a server-side cursor: a
    million ORM objects would cost more than the verification itself."""
    raw = uow.driver()
    entries = []
    with raw.cursor(name="audit_verify") as cursor:
        cursor.itersize = 20_000
        cursor.execute("SELECT seq, entry, leaf_hash FROM audit_events ORDER BY seq")
        for seq, entry, leaf in cursor:
            entries.append(EntryRecord(seq, entry, bytes(leaf)))
    cps = [
        CheckpointRecord(c.tree_size, c.root_hash, c.key_id, c.signature, c.note)
        for c in list_checkpoints(uow)
    ]
    return entries, cps


def verify_tenant(uow: UnitOfWork, ring: KeyRing, sources: Sequence[Source] = ()) -> Report:
    """Check the whole log, then the records anchored in it (those of
    ``sources``). The database compares columns with the signed
    entries on a second connection while this process checks hashes, chain
    and checkpoints: the two halves run on two cores."""
    engine = uow.side_engine()
    with ThreadPoolExecutor(max_workers=1) as pool:
        if engine is not None:
            columns = pool.submit(_mismatches_on_own_connection, engine, uow)
        entries, cps = _records(uow)
        report = verify_log(str(uow.tenant), entries, cps, ring.all_public())
        mismatches = columns.result() if engine is not None else _column_mismatches(uow)
    for seq, column in sorted(mismatches.items()):
        report.bad(
            seq, f"entry {seq}: column {column} differs from the signed entry (edited in place)"
        )
    if sources:
        report.records = verify_records(uow, sources)
    return report


def _mismatches_on_own_connection(engine: Engine, uow: UnitOfWork) -> dict[int, str]:
    with Session(engine) as session, session.begin():
        return _column_mismatches(UnitOfWork.begin(session, uow.tenant, uow.actor))


def export(
    uow: UnitOfWork, ring: KeyRing, tenant_slug: str, sources: Sequence[Source] = ()
) -> dict[str, Any]:
    """The log, its checkpoints and keys, and the anchored records as the
    rows hold them now (docs/formats/audit-export.md)."""
    entries, cps = _records(uow)
    return {
        "format": EXPORT_FORMAT,
        "tenant": {"id": str(uow.tenant), "slug": tenant_slug},
        "entries": [
            {"seq": e.seq, "entry": e.entry, "leaf_hash": e.leaf_hash.hex()} for e in entries
        ],
        "checkpoints": [
            {
                "tree_size": c.tree_size,
                "root_hash": c.root_hash.hex(),
                "key_id": c.key_id,
                "signature": base64.b64encode(c.signature).decode(),
                "note": c.note,
            }
            for c in cps
        ],
        "keys": [
            public_jwk(key, ring.purpose) | {"kid": kid} for kid, key in ring.all_public().items()
        ],
        "records": export_records(uow, sources),
        # Records purged on purpose, each under its receipt (itself a record above).
        "purged": [
            {"kind": kind, "id": record_id, "under": label}
            for (kind, record_id), label in sorted(purged_records(uow).items())
        ],
    }
