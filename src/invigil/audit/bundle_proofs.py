"""Building a bundle: the domain's builder, then the audit part that makes
its records checkable offline (docs/formats/evidence-bundle.md).

Every entry a member cites goes into ``audit/entries.jsonl`` as its exact
signed text, with its inclusion proof into one signed checkpoint
(``audit/proofs.json``, ``audit/checkpoint.json``); the manifest carries the
tenant's public checkpoint keys. An entry the latest checkpoint does not
cover yet is covered by sealing one now (:func:`invigil.audit.checkpoints.seal`),
in the build's transaction, so every record in a bundle has a proof. The
build itself is audited (``bundle.built``): who took which evidence out.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import IO, Any

from sqlalchemy import select

from invigil import audit
from invigil.audit import checkpoints
from invigil.audit.bundle import BundleWriter, Options, builder_for
from invigil.audit.canonical import canonical_json
from invigil.audit.models import AuditCheckpoint, AuditEvent
from invigil.audit.service import trees
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.security.keys import KeyRing, public_jwk


def build(
    uow: UnitOfWork,
    ring: KeyRing,
    kind: str,
    subject_id: uuid.UUID,
    sink: IO[bytes],
    options: Options,
    writer: BundleWriter | None = None,
) -> dict[str, Any]:
    """Write the bundle of ``kind`` for ``subject_id`` to ``sink``; returns
    its manifest. ``writer``: one made by the caller on ``sink`` (to follow
    progress); by default a new one."""
    builder = builder_for(kind)
    writer = writer or BundleWriter(
        sink, kind, {"type": kind, "id": str(subject_id)}, str(uow.tenant)
    )
    try:
        builder(uow, subject_id, writer, options)
        add_audit_part(uow, ring, writer)
    except BaseException:
        writer.abort()
        raise
    manifest = writer.close()
    digest = hashlib.sha256(canonical_json(manifest)).hexdigest()
    shown = [m.path for m in writer.members if m.role == "evidence"]
    audit.record(
        uow,
        "bundle.built",
        (kind, str(subject_id)),
        {
            "kind": kind,
            "members": len(writer.members) + 1,
            "evidence_included": shown,
            "evidence_withheld": len(writer.withheld),
            "manifest_sha256": digest,
        },
    )
    return manifest


def cited_seqs(writer: BundleWriter) -> list[int]:
    seqs = {m.cited.seq for m in writer.members if m.cited is not None}
    return sorted(seqs | {w.seq for w in writer.withheld})


def covering_checkpoint(uow: UnitOfWork, ring: KeyRing, last_seq: int) -> AuditCheckpoint:
    """The latest checkpoint, sealed now if it does not cover ``last_seq``."""
    latest = checkpoints.latest(uow)
    if latest is None or latest.tree_size <= last_seq:
        latest = checkpoints.seal(uow, ring) or checkpoints.latest(uow)
    if latest is None or latest.tree_size <= last_seq:
        raise Invalid(f"no checkpoint covers audit entry {last_seq}")
    return latest


def add_audit_part(uow: UnitOfWork, ring: KeyRing, writer: BundleWriter) -> None:
    seqs = cited_seqs(writer)
    if not seqs:
        raise Invalid("the bundle cites no audit entry: nothing in it could be proven")
    checkpoint = covering_checkpoint(uow, ring, seqs[-1])
    size = checkpoint.tree_size
    tree = trees.get(uow, size)
    if tree.root() != checkpoint.root_hash:
        raise Invalid("the log does not match its latest checkpoint; run `invigil audit verify`")
    entries = uow.scalars(
        select(AuditEvent).where(AuditEvent.seq.in_(seqs)).order_by(AuditEvent.seq)
    )
    if len(entries) != len(seqs):
        raise Invalid("an audit entry the bundle cites is missing; run `invigil audit verify`")
    writer.add_raw_lines("audit/entries.jsonl", [e.entry for e in entries], "audit")
    proofs = [
        {
            "seq": e.seq,
            "leaf_hash": e.leaf_hash.hex(),
            "path": [h.hex() for h in tree.inclusion_proof(e.seq, size)],
        }
        for e in entries
    ]
    writer.add_json("audit/proofs.json", {"tree_size": size, "proofs": proofs}, "audit")
    writer.add_json(
        "audit/checkpoint.json",
        {
            "tree_size": size,
            "root_hash": checkpoint.root_hash.hex(),
            "key_id": checkpoint.key_id,
            "signature": base64.b64encode(checkpoint.signature).decode(),
            "note": checkpoint.note,
        },
        "audit",
    )
    writer.keys = [public_jwk(key, ring.purpose) for key in ring.all_public().values()]


def anchoring_entry(
    uow: UnitOfWork,
    subject_type: str,
    subject_id: str,
    actions: tuple[str, ...],
    *,
    latest: bool = False,
) -> AuditEvent | None:
    """The first (or ``latest``) entry of one of ``actions`` about a subject."""
    order = AuditEvent.seq.desc() if latest else AuditEvent.seq
    return uow.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == subject_type,
            AuditEvent.subject_id == subject_id,
            AuditEvent.action.in_(actions),
        )
        .order_by(order)
        .limit(1)
    )
