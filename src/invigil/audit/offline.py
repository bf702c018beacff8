"""Verify an export file with nothing but the file (and, to pin trust, the
published public key): no database, no network, no Invigil server."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from invigil.audit.records import (
    Anchor,
    Record,
    Recording,
    RecordsReport,
    anchor_in,
    chain_sha256,
    check_records,
    digest_flaw,
    document_sha256,
    witnessed,
)
from invigil.audit.verify import CheckpointRecord, EntryRecord, Report, verify_log
from invigil.errors import Invalid
from invigil.security.keys import public_key_from_jwk, thumbprint

EXPORT_FORMAT = "invigil-audit-export/v1"


def load_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """A pinned key: a PEM public key, a JWK, or a key set such as
    /.well-known/invigil-audit-keys.json (all its Ed25519 checkpoint keys)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Invalid(f"cannot read the key file {path}: {exc.strerror}") from exc
    return parse_keys(raw, str(path))


def parse_keys(raw: bytes, path: str) -> dict[str, Ed25519PublicKey]:
    """:func:`load_keys` from bytes already read (``path`` names where from)."""
    if raw.lstrip().startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(raw)
        if not isinstance(key, Ed25519PublicKey):
            raise Invalid(f"{path} is not an Ed25519 public key")
        return {thumbprint(key): key}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Invalid(f"{path} is neither a PEM public key nor JSON (JWK/JWKS)") from exc
    jwks = data["keys"] if isinstance(data, dict) and "keys" in data else [data]
    keys = {}
    for jwk in jwks:
        # From a JWKS, only checkpoint keys: access-token keys never vouch for the log.
        if jwk.get("invigil_purpose", "audit-checkpoint") != "audit-checkpoint":
            continue
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            key = public_key_from_jwk(jwk)
            keys[thumbprint(key)] = key
    if not keys:
        raise Invalid(
            f"{path} holds no Ed25519 checkpoint key; pin the keys from "
            "/.well-known/invigil-audit-keys.json (the token JWKS at "
            "/.well-known/jwks.json holds none): `invigil audit fetch-key URL`"
        )
    return keys


def verify_export(
    data: dict[str, Any], pinned: dict[str, Ed25519PublicKey] | None = None
) -> Report:
    if data.get("format") != EXPORT_FORMAT:
        raise Invalid(f"not an Invigil audit export (format {data.get('format')!r})")
    try:
        entries = [
            EntryRecord(int(e["seq"]), str(e["entry"]), bytes.fromhex(e["leaf_hash"]))
            for e in data["entries"]
        ]
        cps = [
            CheckpointRecord(
                int(c["tree_size"]),
                bytes.fromhex(c["root_hash"]),
                str(c["key_id"]),
                base64.b64decode(c["signature"]),
                str(c["note"]),
            )
            for c in data["checkpoints"]
        ]
        embedded = {}
        for jwk in data.get("keys", []):
            key = public_key_from_jwk(jwk)
            embedded[thumbprint(key)] = key  # the kid is recomputed, never trusted
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"the export file is malformed ({exc})") from exc
    keys = pinned if pinned is not None else embedded
    report = verify_log(str(data["tenant"]["id"]), entries, cps, keys)
    if not cps:
        report.problems.append("the export holds no signed checkpoint: nothing vouches for it")
    if "records" in data:
        report.records = verify_records(entries, data["records"], data.get("purged"))
    return report


def verify_records(entries: list[EntryRecord], exported: Any, purged: Any = None) -> RecordsReport:
    """Hash each exported record as the database verifier does and compare
    it with the anchors in the entries (which the log check has vouched for).
    ``purged``: the records the export says a purge removed; each is taken
    only when the receipt it names (the label's last word) is itself an
    exported record, which the anchors vouch for."""
    anchors: list[Anchor] = []
    recorded: dict[tuple[str, str, str], Recording] = {}
    for e in entries:
        try:
            parsed = json.loads(e.entry)
            action, subject = str(parsed["action"]), parsed["subject"]
            found = anchor_in(action, str(subject["id"]), parsed["payload"], e.seq)
        except (ValueError, KeyError, TypeError):
            continue  # the log check names a bad entry
        payload = parsed["payload"] if isinstance(parsed["payload"], dict) else {}
        recorded.setdefault(
            (str(subject["type"]), str(subject["id"]), action), Recording(e.seq, payload)
        )
        if found is not None:
            anchors.append(found)
    anchors.sort(key=lambda a: (a.kind, a.id, a.seq))
    by_kind: dict[str, list[Record]] = {}
    try:
        for r in exported:
            record = _record(r)
            by_kind.setdefault(record.kind, []).append(record)
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"the export's records are malformed ({exc})") from exc
    ids = {r.id for records in by_kind.values() for r in records}
    gone: dict[tuple[str, str], str] = {}
    try:
        for p in purged or ():
            label = str(p["under"])
            if label.rsplit(" ", 1)[-1] in ids:
                gone[(str(p["kind"]), str(p["id"]))] = label
    except (KeyError, TypeError) as exc:
        raise Invalid(f"the export's purged records are malformed ({exc})") from exc
    return check_records(
        by_kind,
        anchors,
        lambda kind: sorted(by_kind[kind], key=lambda r: r.id),
        lambda r: recorded.get((r.subject_type, r.id, r.recorded_by)),
        purged=gone,
    )


def _record(r: dict[str, Any]) -> Record:
    kind, ident = str(r["kind"]), str(r["id"])
    subject, by = str(r["subject_type"]), str(r["recorded_by"])
    if "items" in r:
        head, count = chain_sha256(kind, ident, r["items"])
        return Record(kind, ident, subject, by, head, count)
    stated = r.get("stated_sha256")
    document = r["document"]
    return Record(
        kind,
        ident,
        subject,
        by,
        document_sha256(document),
        stated=None if stated is None else str(stated),
        flaw=digest_flaw(kind, document),
        witnessed=witnessed(kind, document),
    )
