"""The verifier names the first edited entry, not a range: an export of a
log of ``N`` entries (built here exactly as the database builds them) is
edited at entry ``k`` in each way an editor could (payload, actor, time,
with or without recomputing its leaf hash; deleted; two entries swapped),
and ``first_bad_seq`` and the first message name exactly ``k``, or the entry
docs/formats/audit-export.md says such a change is named by."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from invigil.audit.canonical import canonical_json
from invigil.audit.checkpoints import make_note
from invigil.audit.log import GENESIS
from invigil.audit.merkle import MerkleTree
from invigil.audit.offline import EXPORT_FORMAT, verify_export
from invigil.audit.verify import Report
from invigil.security.keys import AUDIT_CHECKPOINT, public_jwk, thumbprint

N = 8
TENANT = "6f0b1c7e-2a41-4d55-9a53-1c2f5e3d9b10"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def leaf(text: str) -> bytes:
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def entry(seq: int, prev: bytes) -> dict[str, Any]:
    return {
        "action": "grade.set",
        "actor": {"id": f"user-{seq}", "kind": "user"},
        "at": f"2026-01-02T03:04:{seq:02d}.000000Z",
        "id": str(uuid.UUID(int=seq + 1)),
        "payload": {"points": seq},
        "prev": prev.hex(),
        "seq": seq,
        "subject": {"id": f"a-{seq}", "type": "attempt"},
        "tenant": TENANT,
        "v": 1,
    }


def checkpoint(leaves: list[bytes], size: int) -> dict[str, Any]:
    root = MerkleTree(leaves).root_at(size)
    note = make_note(TENANT, size, root, f"2026-01-02T04:00:{size:02d}.000000Z")
    return {
        "tree_size": size,
        "root_hash": root.hex(),
        "key_id": thumbprint(KEY.public_key()),
        "signature": base64.b64encode(KEY.sign(note.encode())).decode(),
        "note": note,
    }


def export(sizes: tuple[int, ...] = (3, 7, N)) -> dict[str, Any]:
    """A sound export of ``N`` entries sealed at ``sizes``."""
    entries, prev = [], GENESIS
    for seq in range(N):
        text = canonical_json(entry(seq, prev)).decode()
        entries.append({"seq": seq, "entry": text, "leaf_hash": leaf(text).hex()})
        prev = leaf(text)
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in entries]
    return {
        "format": EXPORT_FORMAT,
        "tenant": {"id": TENANT, "slug": "t"},
        "entries": entries,
        "checkpoints": [checkpoint(leaves, s) for s in sizes],
        "keys": [public_jwk(KEY.public_key(), AUDIT_CHECKPOINT)],
    }


def edit(data: dict[str, Any], k: int, change: Callable[[dict[str, Any]], None], *,
         rehash: bool, rechain: bool = False) -> dict[str, Any]:  # fmt: skip
    """``data`` with entry ``k`` changed by ``change``; ``rehash``: its leaf
    hash recomputed too; ``rechain``: and every later entry's prev and leaf
    hash (the whole tail rewritten)."""
    out = copy.deepcopy(data)
    entries = out["entries"]
    parsed = json.loads(entries[k]["entry"])
    change(parsed)
    entries[k]["entry"] = canonical_json(parsed).decode()
    if rehash or rechain:
        entries[k]["leaf_hash"] = leaf(entries[k]["entry"]).hex()
    if rechain:
        for later in entries[k + 1 :]:
            body = json.loads(later["entry"])
            body["prev"] = entries[entries.index(later) - 1]["leaf_hash"]
            later["entry"] = canonical_json(body).decode()
            later["leaf_hash"] = leaf(later["entry"]).hex()
    return out


def payload(e: dict[str, Any]) -> None:
    e["payload"]["points"] = 100


def actor(e: dict[str, Any]) -> None:
    e["actor"]["id"] = "someone-else"


def timestamp(e: dict[str, Any]) -> None:
    e["at"] = "2025-12-31T23:59:59.000000Z"


CHANGES = {"payload": payload, "actor": actor, "time": timestamp}


def named(report: Report, k: int) -> None:
    """``k`` is the first bad entry, and the first message names it."""
    assert not report.ok
    assert report.first_bad_seq == k, report.problems
    first = report.problems[0]
    assert first.startswith((f"entry {k} ", f"entry {k}:")), report.problems
    assert not any("at or after" in p for p in report.problems), report.problems


def test_the_unedited_export_verifies() -> None:
    report = verify_export(export())
    assert report.ok, report.problems


@pytest.mark.parametrize("what", CHANGES)
@pytest.mark.parametrize("k", [0, 1, 3, 5, N - 1])
def test_an_edited_entry_is_named_by_its_own_leaf_hash(what: str, k: int) -> None:
    """Edited in the file, its leaf hash left as it was."""
    report = verify_export(edit(export(), k, CHANGES[what], rehash=False))
    named(report, k)
    assert "its stored leaf hash does not match" in report.problems[0]
    # Each checkpoint above it is explained by the same entry, not by a range.
    assert any(f"explained by entry {k}" in p for p in report.problems)


@pytest.mark.parametrize("what", CHANGES)
@pytest.mark.parametrize("k", [0, 1, 3, 5, N - 2])
def test_an_edited_entry_with_its_leaf_hash_recomputed_is_named_by_the_chain(
    what: str, k: int
) -> None:
    report = verify_export(edit(export(), k, CHANGES[what], rehash=True))
    named(report, k)
    assert report.problems[0].startswith(f"entry {k} was altered: entry {k + 1} does not follow")


@pytest.mark.parametrize("what", CHANGES)
def test_the_last_entry_with_its_leaf_hash_recomputed_is_named_by_its_checkpoint(
    what: str,
) -> None:
    """No entry follows it: the checkpoint just before it (size N - 1) holds
    and the one covering it does not, which pins it."""
    report = verify_export(edit(export(), N - 1, CHANGES[what], rehash=True))
    assert report.first_bad_seq == N - 1, report.problems
    (message,) = report.problems
    assert f"entry {N - 1} was altered" in message and f"checkpoint at size {N}" in message


def test_a_rewritten_tail_is_pinned_between_two_checkpoints() -> None:
    """Entry 4 changed and every later entry re-chained: nothing but the
    checkpoints (3, 7, 8) can tell; the last entry under the first failing
    one (6) surely changed, any from the last holding one (3) may have."""
    report = verify_export(edit(export(), 4, payload, rehash=True, rechain=True))
    assert report.first_bad_seq == 3, report.problems
    assert "Entry 6 was altered; so may be any entry from 3 on" in report.problems[0]


@pytest.mark.parametrize("k", [0, 3, N - 2])
def test_a_deleted_entry_is_named(k: int) -> None:
    data = export()
    del data["entries"][k]
    report = verify_export(data)
    named(report, k)
    assert report.problems[0] == f"entry {k} is missing (deleted): entry {k + 1} is in its place"


def test_a_deleted_last_entry_is_named_by_the_checkpoint_that_covers_it() -> None:
    data = export()
    del data["entries"][-1]
    report = verify_export(data)
    assert report.first_bad_seq == N - 1, report.problems
    assert any(f"entries from {N - 1} deleted" in p for p in report.problems)


@pytest.mark.parametrize("k", [0, 3, N - 2])
def test_two_swapped_entries_are_named_by_the_first_of_them(k: int) -> None:
    data = export()
    entries = data["entries"]
    entries[k], entries[k + 1] = entries[k + 1], entries[k]
    report = verify_export(data)
    named(report, k)
    assert report.problems[0] == (
        f"entry {k} is out of order: it stands at position {k + 1}, entry {k + 1} in its place"
    )


@pytest.mark.parametrize("k", [0, 3, N - 2])
def test_two_swapped_and_renumbered_entries_are_named_by_the_first_of_them(k: int) -> None:
    """Swapped, with the file's ``seq`` members swapped back: each entry's
    signed text still says where it belongs."""
    data = export()
    entries = data["entries"]
    entries[k], entries[k + 1] = entries[k + 1], entries[k]
    entries[k]["seq"], entries[k + 1]["seq"] = k, k + 1
    report = verify_export(data)
    named(report, k)
    assert report.problems[0] == f"entry {k}: claims to be entry {k + 1} of tenant {TENANT}"
