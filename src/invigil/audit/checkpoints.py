"""Sealing: signed checkpoints of each tenant's Merkle tree.

A checkpoint is a short signed note (size, root, time, tenant). Before a new
checkpoint is signed, the current log must still extend the previous one
(its first ``old_size`` leaves give the old root); a rewritten history is
refused, never sealed over.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text

from invigil.audit.log import timestamp
from invigil.audit.merkle import MerkleTree
from invigil.audit.models import AuditCheckpoint, AuditEvent
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict
from invigil.logs import get_logger
from invigil.security.keys import KeyRing

log = get_logger(__name__)

NOTE_HEADER = "invigil-audit-checkpoint/v1"


def make_note(tenant: str, size: int, root: bytes, sealed_at: str) -> str:
    return (
        f"{NOTE_HEADER}\ntenant {tenant}\nsize {size}\n"
        f"root {base64.b64encode(root).decode()}\ntime {sealed_at}\n"
    )


@dataclass(frozen=True)
class ParsedNote:
    tenant: str
    size: int
    root: bytes
    time: str


def parse_note(note: str) -> ParsedNote | None:
    lines = note.split("\n")
    if len(lines) != 6 or lines[0] != NOTE_HEADER or lines[5] != "":
        return None
    try:
        fields = dict(line.split(" ", 1) for line in lines[1:5])
        return ParsedNote(
            fields["tenant"],
            int(fields["size"]),
            base64.b64decode(fields["root"], validate=True),
            fields["time"],
        )
    except (KeyError, ValueError):
        return None


def leaf_hashes(uow: UnitOfWork) -> list[bytes]:
    return list(uow.session.scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq)))


def latest(uow: UnitOfWork) -> AuditCheckpoint | None:
    return uow.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def seal(uow: UnitOfWork, ring: KeyRing) -> AuditCheckpoint | None:
    """Sign the tenant's current tree; None when there is nothing new to seal."""
    # One sealer per tenant at a time (several workers may run the job).
    uow.session.execute(
        text("SELECT pg_advisory_xact_lock(4242002, hashtext(:t))"), {"t": str(uow.tenant)}
    )
    leaves = leaf_hashes(uow)
    previous = latest(uow)
    if not leaves or (previous is not None and previous.tree_size == len(leaves)):
        return None
    tree = MerkleTree(leaves)
    if previous is not None and (
        previous.tree_size > len(leaves) or tree.root_at(previous.tree_size) != previous.root_hash
    ):
        log.error("audit.seal_refused", tenant=str(uow.tenant), size=previous.tree_size)
        raise Conflict(
            f"the audit log no longer extends the checkpoint at size {previous.tree_size}: "
            "its history was changed; run `invigil audit verify` to find the entry"
        )
    sealed_at: datetime = uow.session.execute(text("SELECT clock_timestamp()")).scalar_one()
    root = tree.root()
    note = make_note(str(uow.tenant), len(leaves), root, timestamp(sealed_at))
    kid, signature = ring.sign(note.encode())
    checkpoint = AuditCheckpoint(
        tenant_id=uow.tenant,
        tree_size=len(leaves),
        root_hash=root,
        sealed_at=sealed_at,
        key_id=kid,
        signature=signature,
        note=note,
    )
    uow.add(checkpoint)
    uow.flush()
    return checkpoint
