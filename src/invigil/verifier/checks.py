"""The checks that read a bundle's members, once their hashes agree with
the manifest (docs/formats/evidence-bundle.md, "What the verifier checks").

keys        every key in the manifest is an Ed25519 checkpoint key whose
            kid is its RFC 7638 thumbprint
checkpoint  the checkpoint's note is signed by a trusted key (the pinned
            ones, else the manifest's), and states its tenant, size, root
inclusion   every audit entry hashes to its leaf, and its path leads to
            the checkpoint's root (RFC 9162)
anchors     every record's bytes (or chain of lines) hash to what its
            entry states, in the entry its kind is recorded by
subject     every record belongs to the bundle's subject
event chain every stored browser event hashes as sha256(prev + body) and
            says truly whether it follows the one before it
result      the latest result recomputes from the frozen exam, the answer
            sheet and the marks
ranking     (a shortlist run) the frozen rules re-rank the entries' facts
            into the recorded order (:mod:`invigil.verifier.shortlist`)
state, requirements, credential
            (a certificate) its current state is its last change, its
            program's requirements hold over its results, its signed
            credential is the issuer's (:mod:`invigil.verifier.certificate`)
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from .bundle import MANIFEST, Bundle, Failed
from .proofs import BadKey, key_from_jwk, leaf_hash, parse_note, signed_by, thumbprint
from .proofs import verify_inclusion as included

CHECKPOINT = "audit/checkpoint.json"
ENTRIES = "audit/entries.jsonl"
PROOFS = "audit/proofs.json"
# The actions that may record each kind of record.
RECORDED_BY = {
    "exam_version": ("exam.published",),
    "consent": ("consent.given", "consent.declined"),
    "answers": ("attempt.submitted",),
    "result": ("result.recorded",),
    "mark": ("grading.marked", "grading.moderated", "grading.regraded"),
    "release": ("result.released",),
    "events": ("proctoring.sealed", "proctoring.rechecked"),
    "review_decision": ("review.decided",),
    "live_intervention": (
        "proctor.message_sent",
        "proctor.message_read",
        "proctor.time_added",
        "proctor.paused",
        "proctor.resumed",
        "proctor.ended",
        "proctor.room_check_requested",
        "proctor.room_check_recorded",
    ),
    "evidence": ("evidence.stored",),
    "shortlist_rules": ("shortlist.rules_versioned",),
    "shortlist_run": ("shortlist.run_completed",),
    "shortlist_stage": ("shortlist.stage_changed",),
    "cert_program_version": ("certification.program_versioned",),
    "certificate": ("certificate.issued",),
    "certificate_state": ("certificate.state_changed",),
}
_KEY = {"kty", "crv", "x", "kid", "alg", "use", "invigil_purpose"}


def _keys(b: Bundle) -> None:
    keys = {}
    for jwk in b.manifest["keys"]:
        if not isinstance(jwk, dict) or set(jwk) != _KEY:
            raise Failed(MANIFEST, f"a key must hold exactly {sorted(_KEY)}")
        fixed = (jwk["alg"], jwk["use"], jwk["invigil_purpose"])
        if fixed != ("EdDSA", "sig", "audit-checkpoint"):
            raise Failed(MANIFEST, f"key {jwk['kid']} is not an EdDSA checkpoint signing key")
        try:
            key = key_from_jwk(jwk)
        except BadKey as exc:
            raise Failed(MANIFEST, f"key {jwk.get('kid')}: {exc}") from None
        if thumbprint(key) != jwk["kid"]:
            raise Failed(MANIFEST, f"key {jwk['kid']}: its kid is not its thumbprint")
        keys[jwk["kid"]] = key
    if not keys:
        raise Failed(MANIFEST, "holds no checkpoint key")
    b.facts["keys"] = keys


def _checkpoint(b: Bundle) -> None:
    cp = b.json(CHECKPOINT)
    wanted = {"tree_size", "root_hash", "key_id", "signature", "note"}
    if not isinstance(cp, dict) or set(cp) != wanted:
        raise Failed(CHECKPOINT, f"must hold exactly {sorted(wanted)}")
    trusted = b.pinned if b.pinned is not None else b.facts["keys"]
    key = trusted.get(cp["key_id"])
    if key is None:
        which = "the pinned key" if b.pinned is not None else "any key in the manifest"
        raise Failed(CHECKPOINT, f"is signed by key {cp['key_id']}, not by {which}")
    try:
        signature = base64.b64decode(cp["signature"], validate=True)
        root = bytes.fromhex(cp["root_hash"])
    except (ValueError, TypeError):
        raise Failed(CHECKPOINT, "its signature or root is not well formed") from None
    if not signed_by(key, str(cp["note"]).encode(), signature):
        raise Failed(CHECKPOINT, f"its signature does not verify with key {cp['key_id']}")
    note = parse_note(str(cp["note"]))
    if note is None:
        raise Failed(CHECKPOINT, "its note is not an Invigil checkpoint note")
    if note.tenant != b.manifest["tenant"]:
        raise Failed(CHECKPOINT, f"is the checkpoint of tenant {note.tenant}, not the bundle's")
    if note.size != cp["tree_size"] or note.root != root:
        raise Failed(CHECKPOINT, "its size or root differs from what its signed note states")
    b.facts["checkpoint"] = (note.size, root)


def _inclusion(b: Bundle) -> None:
    size, root = b.facts["checkpoint"]
    entries: dict[int, dict[str, Any]] = {}
    lines = b.lines(ENTRIES)
    for line in lines:
        try:
            entry = json.loads(line)
            seq = int(entry["seq"])
        except (ValueError, KeyError, TypeError):
            raise Failed(ENTRIES, "holds a line that is not an audit entry") from None
        if entry.get("tenant") != b.manifest["tenant"] or seq in entries:
            raise Failed(ENTRIES, f"entry {seq} is another tenant's, or there twice")
        entries[seq] = entry | {"_leaf": leaf_hash(line)}
    proofs = b.json(PROOFS)
    if not isinstance(proofs, dict) or proofs.get("tree_size") != size:
        raise Failed(PROOFS, "does not prove into the bundle's checkpoint")
    proven = set()
    listed = proofs.get("proofs")
    for p in listed if isinstance(listed, list) else []:
        claimed = p.get("seq") if isinstance(p, dict) else None
        if not isinstance(claimed, int) or claimed not in entries:
            raise Failed(PROOFS, f"proves entry {claimed}, which is not in {ENTRIES}")
        seq = claimed
        leaf = entries[seq]["_leaf"]
        if p.get("leaf_hash") != leaf.hex():
            raise Failed(ENTRIES, f"entry {seq} does not hash to its leaf in {PROOFS}")
        try:
            path = [bytes.fromhex(h) for h in p["path"]]
        except (ValueError, TypeError, KeyError):
            raise Failed(PROOFS, f"the path of entry {seq} is not well formed") from None
        if not included(leaf, seq, size, path, root):
            raise Failed(ENTRIES, f"entry {seq} is not included in the checkpoint of size {size}")
        proven.add(seq)
    for seq in sorted(set(entries) - proven):
        raise Failed(PROOFS, f"has no proof for entry {seq}")
    cited = {m["record"]["seq"] for m in b.members if "record" in m}
    cited |= {w["seq"] for w in b.manifest["withheld"]}
    for seq in sorted(cited - set(entries)):
        raise Failed(MANIFEST, f"cites entry {seq}, which is not in {ENTRIES}")
    for seq in sorted(set(entries) - cited):
        raise Failed(ENTRIES, f"entry {seq} is cited by no member")
    b.facts["entries"] = entries
    b.facts["counts"] = {"entries": len(entries), "members": len(b.members) + 1}


def _field(payload: Any, path: str) -> Any:
    for part in path.split("."):
        payload = payload.get(part) if isinstance(payload, dict) else None
    return payload


def chain_head(kind: str, record_id: str, lines: list[bytes]) -> str:
    """The head of a chain (``invigil.audit.records.Chain``) of canonical lines."""
    head = hashlib.sha256(f"invigil:{kind}:{record_id}".encode()).hexdigest()
    for line in lines:
        head = hashlib.sha256(head.encode() + line).hexdigest()
    return head


def _anchors(b: Bundle) -> None:
    entries = b.facts["entries"]
    records = 0
    for m in b.members:
        r = m.get("record")
        if r is None:
            continue
        entry = entries[r["seq"]]
        path = m["path"]
        if entry.get("action") not in RECORDED_BY.get(r["kind"], ()):
            raise Failed(
                path, f"entry {r['seq']} ({entry.get('action')}) does not record a {r['kind']}"
            )
        if _field(entry.get("subject"), "id") != r["id"]:
            raise Failed(
                path, f"entry {r['seq']} records another subject than {r['kind']} {r['id']}"
            )
        payload = entry.get("payload")
        if r["field"].startswith("anchor.") and _field(payload, "anchor.kind") != r["kind"]:
            raise Failed(path, f"entry {r['seq']} anchors no {r['kind']}")
        stated = _field(payload, r["field"])
        if r["hash"] == "chain":
            lines = b.lines(path)
            actual = chain_head(r["kind"], r["id"], lines)
            count = _field(payload, "anchor.count")
            if count is not None and count != len(lines):
                raise Failed(path, f"holds {len(lines)} items; entry {r['seq']} anchored {count}")
        else:
            actual = m["sha256"]
        if actual != stated:
            raise Failed(path, f"does not hash to the sha256 that entry {r['seq']} states")
        if r["kind"] == "evidence" and _field(payload, "size") != m["size"]:
            raise Failed(path, f"is not the size entry {r['seq']} recorded")
        records += 1
    for w in b.manifest["withheld"]:
        entry = entries[w["seq"]]
        payload = entry.get("payload")
        recorded = (
            entry.get("action"),
            _field(entry.get("subject"), "id"),
            *(_field(payload, f) for f in ("sha256", "size", "kind")),
        )
        if recorded != ("evidence.stored", w["id"], w["sha256"], w["size"], w["kind"]):
            raise Failed(
                MANIFEST, f"withheld evidence {w['id']} is not what entry {w['seq']} recorded"
            )
    b.facts["counts"] |= {"records": records, "withheld": len(b.manifest["withheld"])}


Step = Callable[[Bundle], str | None]
STEPS: dict[str, Step] = {}
KIND_STEPS: dict[str, dict[str, Step]] = {}  # each kind's subject check and its own


def _register() -> None:
    from . import attempt, certificate, shortlist

    STEPS.update(
        {"keys": _keys, "checkpoint": _checkpoint, "inclusion": _inclusion, "anchors": _anchors}
    )
    KIND_STEPS.update(
        {
            "attempt": {
                "subject": attempt.subject,
                "event chain": attempt.event_chain,
                "result": attempt.result,
            },
            "shortlist": {"subject": shortlist.subject, "ranking": shortlist.ranking},
            "certificate": {
                "subject": certificate.subject,
                "state": certificate.state,
                "requirements": certificate.requirements,
                "credential": certificate.credential,
            },
        }
    )


_register()
