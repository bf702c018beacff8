"""The verifier's own reading of the rules agrees with the code that
writes them (inclusion proofs, key thumbprints), and its event chain and
result checks name what is wrong."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from invigil.audit.merkle import MerkleTree
from invigil.security.keys import thumbprint as written_thumbprint
from invigil.verifier import attempt, proofs
from invigil.verifier.bundle import Bundle, Failed

AID = "0b6ad2d7-6f5c-4f55-9d0c-2f3b1e6c1a11"


def test_inclusion_proofs_agree_with_the_log_for_every_position() -> None:
    leaves = [hashlib.sha256(bytes([n])).digest() for n in range(37)]
    tree = MerkleTree(leaves)
    for size in (1, 2, 3, 7, 8, 9, 36, 37):
        root = tree.root_at(size)
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            assert proofs.verify_inclusion(leaves[index], index, size, path, root)
            assert not proofs.verify_inclusion(leaves[index], index, size, path, bytes(32))
            if path:
                bent = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
                assert not proofs.verify_inclusion(leaves[index], index, size, bent, root)


def test_thumbprints_agree_with_the_key_ring() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    assert proofs.thumbprint(key) == written_thumbprint(key)


def _bundle(events: list[dict[str, Any]]) -> Bundle:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as z:
        z.writestr("records/events.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    b = Bundle(zipfile.ZipFile(io.BytesIO(sink.getvalue())))
    b.manifest = {"subject": {"type": "attempt", "id": AID}, "members": []}
    b.facts["counts"] = {}
    return b


def _chained(n: int) -> list[dict[str, Any]]:
    prev = hashlib.sha256(f"invigil:{AID}".encode()).hexdigest()
    out = [{"seq": -1, "body": None, "prev": None, "hash": None, "linked": False}]
    for seq in range(1, n + 1):
        body = json.dumps({"kind": "tab.hidden", "n": seq})
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        out.append({"seq": seq, "body": body, "prev": prev, "hash": digest, "linked": True})
        prev = digest
    return out


def test_the_event_chain_holds_and_names_a_broken_link() -> None:
    events = _chained(3)
    attempt.event_chain(_bundle(events))
    edited = [dict(e) for e in events]
    edited[2]["body"] = edited[2]["body"].replace("2", "9")
    with pytest.raises(Failed, match="event 2: its hash is not sha256"):
        attempt.event_chain(_bundle(edited))
    unlinked = [dict(e) for e in events]
    del unlinked[2]  # event 2 gone: event 3 still claims to follow it
    with pytest.raises(Failed, match="event 3: claims to follow event 2"):
        attempt.event_chain(_bundle(unlinked))
    unlinked[2]["linked"] = False  # honest: the server saw it arrive unlinked
    attempt.event_chain(_bundle(unlinked))
