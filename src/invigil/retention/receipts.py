"""Deletion receipts: what one purge batch (or one erasure) removed, written
once, hashed, signed and anchored (docs/formats/deletion-receipt.md).

A receipt is a canonical JSON document (RFC 8785, as audit entries):
the tenant, the policy version, the data class, why ('policy' or 'erasure'
with its reason and request), the subjects' ids, the counts of rows and
objects, the ids of the data keys destroyed and of the evidence objects
deleted, and when. Its sha256 is anchored by the ``retention.purged`` audit
entry; its Ed25519 signature is made with the audit-checkpoint ring (the
keys ``/.well-known/invigil-audit-keys.json`` publishes), over the bytes of
the canonical document, so anyone with the public key can check a receipt
handed to them with no database.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from invigil import audit
from invigil.audit.anchored import Source, stream
from invigil.audit.canonical import canonical_json
from invigil.audit.records import Record, anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.retention.models import Receipt
from invigil.security.keys import KeyRing, verify_signature

ACTION = "retention.purged"
KIND = "retention_receipt"
FORMAT = 1
TRIGGERS = ("policy", "erasure")

_ring: dict[str, KeyRing] = {}


def use_ring(ring: KeyRing) -> None:
    """The ring receipts are signed and checked with in this process (set by
    the worker, the CLI and the app from their keys; tests set their own)."""
    _ring["audit"] = ring


def ring() -> KeyRing:
    """The configured ring, else the installation's audit-checkpoint ring."""
    if "audit" not in _ring:
        from invigil.security.keys import Keys
        from invigil.settings import get_settings

        _ring["audit"] = Keys(get_settings().keys_dir).audit
    return _ring["audit"]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def receipt_document(row: Receipt | Mapping[str, Any]) -> dict[str, Any]:
    """The signed document, rebuilt from the row (or from an exported row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    request = get("request_id")
    purged_at = get("purged_at")
    return {
        "format": FORMAT,
        "id": str(get("id")),
        "tenant_id": str(get("tenant_id")),
        "policy_version": int(get("policy_version")),
        "data_class": get("data_class"),
        "trigger": get("trigger"),
        "request_id": str(request) if request is not None else None,
        "reason": get("reason"),
        "subjects": get("subjects"),
        "counts": get("counts"),
        "keys_destroyed": get("keys_destroyed"),
        "objects_deleted": get("objects_deleted"),
        "purged_at": purged_at if isinstance(purged_at, str) else _iso(purged_at),
    }


def write(
    uow: UnitOfWork,
    *,
    receipt_id: uuid.UUID,
    policy_version: int,
    data_class: str,
    trigger: str,
    reason: str,
    subjects: list[dict[str, str]],
    counts: dict[str, Any],
    keys_destroyed: list[str],
    objects_deleted: list[str],
    request_id: uuid.UUID | None = None,
    signer: KeyRing | None = None,
) -> Receipt:
    """Write, sign and anchor one receipt in the caller's transaction."""
    assert trigger in TRIGGERS
    now = datetime.now(UTC)
    row = Receipt(
        id=receipt_id, tenant_id=uow.tenant, policy_version=policy_version,
        data_class=data_class, trigger=trigger, request_id=request_id, reason=reason,
        subjects=subjects, counts=counts, keys_destroyed=sorted(keys_destroyed),
        objects_deleted=sorted(objects_deleted), purged_at=now, sha256="", key_id="",
        signature=b"",
    )  # fmt: skip
    document = receipt_document(row)
    row.sha256 = document_sha256(document)
    row.key_id, row.signature = (signer or ring()).sign(canonical_json(document))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        ACTION,
        (KIND, row.id),
        {
            "data_class": data_class,
            "trigger": trigger,
            "policy_version": policy_version,
            "request_id": request_id,
            "subjects": len(subjects),
            "objects": len(objects_deleted),
            "keys": len(keys_destroyed),
            "anchor": anchor(KIND, row.sha256),
        },
    )
    return row


def signature_ok(document: Mapping[str, Any], key_id: str, signature: bytes, keys: KeyRing) -> bool:
    """Whether ``signature`` is the ring's key ``key_id`` over the document
    (retired keys still verify the receipts they signed)."""
    public = keys.all_public().get(key_id)
    return public is not None and verify_signature(public, canonical_json(document), signature)


@dataclass(frozen=True)
class ReceiptView:
    id: uuid.UUID
    created_at: datetime
    policy_version: int
    data_class: str
    trigger: str
    request_id: uuid.UUID | None
    reason: str
    subjects: int
    counts: dict[str, Any]
    keys_destroyed: int
    objects_deleted: int
    sha256: str
    key_id: str
    signature_ok: bool
    hash_ok: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "created_at": self.created_at.isoformat(),
            "policy_version": self.policy_version,
            "data_class": self.data_class,
            "trigger": self.trigger,
            "request_id": str(self.request_id) if self.request_id else None,
            "reason": self.reason,
            "subjects": self.subjects,
            "counts": self.counts,
            "keys_destroyed": self.keys_destroyed,
            "objects_deleted": self.objects_deleted,
            "sha256": self.sha256,
            "key_id": self.key_id,
            "signature_ok": self.signature_ok,
            "hash_ok": self.hash_ok,
        }


def view(row: Receipt, keys: KeyRing | None = None) -> ReceiptView:
    document = receipt_document(row)
    return ReceiptView(
        row.id, row.created_at, row.policy_version, row.data_class, row.trigger, row.request_id,
        row.reason, len(row.subjects), row.counts, len(row.keys_destroyed),
        len(row.objects_deleted), row.sha256, row.key_id,
        signature_ok(document, row.key_id, row.signature, keys or ring()),
        document_sha256(document) == row.sha256,
    )  # fmt: skip


def listed(uow: UnitOfWork, *, limit: int = 500, keys: KeyRing | None = None) -> list[ReceiptView]:
    """The newest receipts first, each with its hash and signature checked."""
    rows = uow.scalars(select(Receipt).order_by(Receipt.created_at.desc(), Receipt.id).limit(limit))
    return [view(r, keys) for r in rows]


def get(uow: UnitOfWork, receipt_id: uuid.UUID) -> Receipt:
    return uow.get(Receipt, receipt_id, label="receipt")


def document_with_signature(row: Receipt) -> dict[str, Any]:
    """A receipt as handed to someone: the document, its hash and signature."""
    return {
        "document": receipt_document(row),
        "sha256": row.sha256,
        "key_id": row.key_id,
        "signature": base64.urlsafe_b64encode(row.signature).rstrip(b"=").decode(),
    }


_FIELDS = (
    "id", "tenant_id", "policy_version", "data_class", "trigger", "request_id", "reason",
    "subjects", "counts", "keys_destroyed", "objects_deleted", "purged_at", "sha256", "key_id",
    "signature",
)  # fmt: skip
_RECEIPTS = f'SELECT {", ".join(_FIELDS)} FROM retention_receipts ORDER BY id::text COLLATE "C"'


def _read(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
    keys = ring()
    for r in stream(uow, _RECEIPTS, {}, "records_retention_receipts"):
        row = dict(zip(_FIELDS, r, strict=True))
        body = receipt_document(row)
        signed = signature_ok(body, row["key_id"], bytes(row["signature"]), keys)
        yield Record(
            KIND, str(row["id"]), KIND, ACTION, document_sha256(body),
            body=body if keep else None, stated=row["sha256"],
            flaw=None if signed else f"its signature (key {row['key_id']}) does not verify",
        )  # fmt: skip


SOURCES = (Source(KIND, _read),)
