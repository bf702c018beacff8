"""The cryptography an evidence bundle rests on, for a reader with nothing
but Python and ``cryptography``: RFC 9162 inclusion proofs over SHA-256,
Ed25519 checkpoint keys (JWK, RFC 7638 thumbprints, PEM) and the signed
checkpoint note.

These are deliberately a second, independent reading of the rules Invigil
writes with (``invigil.audit.merkle``, ``invigil.security.keys``,
``invigil.audit.checkpoints``): the verifier must not trust the code that
made the bundle, and tests hold the two readings to the same answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

NOTE_HEADER = "invigil-audit-checkpoint/v1"
PURPOSE = "audit-checkpoint"


class BadKey(ValueError):
    """A key that cannot be read, or is not an Ed25519 checkpoint key."""


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): RFC 9162 2.1.1."""
    return hashlib.sha256(b"\x00" + entry).digest()


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: is ``leaf`` at ``index`` of the tree of ``size`` with ``root``?"""
    if not 0 <= index < size or len(leaf) != 32 or len(root) != 32:
        return False
    if any(len(p) != 32 for p in path):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638: SHA-256 of the members crv, kty, x in order, base64url."""
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + _b64url(_raw(key)) + '"}'
    return _b64url(hashlib.sha256(members.encode()).digest())


def key_from_jwk(jwk: Any) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise BadKey("not an Ed25519 (OKP) JWK")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise BadKey("the JWK has no x")
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise BadKey(f"the JWK's x is not an Ed25519 key ({exc})") from None


def parse_pinned(raw: bytes, where: str) -> dict[str, Ed25519PublicKey]:
    """A pinned key: PEM, a JWK, or a key set (only its checkpoint keys)."""
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(raw)
        except ValueError as exc:
            raise BadKey(f"{where} is not a PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise BadKey(f"{where} is not an Ed25519 public key")
        return {thumbprint(key): key}
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadKey(f"{where} is neither a PEM public key nor JSON (JWK/JWKS)") from None
    jwks = data["keys"] if isinstance(data, dict) and "keys" in data else [data]
    keys = {}
    for jwk in jwks if isinstance(jwks, list) else []:
        if isinstance(jwk, dict) and jwk.get("invigil_purpose", PURPOSE) == PURPOSE:
            key = key_from_jwk(jwk)
            keys[thumbprint(key)] = key
    if not keys:
        raise BadKey(f"{where} holds no Ed25519 checkpoint key")
    return keys


def signed_by(key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Note:
    tenant: str
    size: int
    root: bytes
    time: str


def parse_note(note: str) -> Note | None:
    """The checkpoint note: header, tenant, size, root (base64), time."""
    lines = note.split("\n")
    if len(lines) != 6 or lines[0] != NOTE_HEADER or lines[5] != "":
        return None
    try:
        fields = dict(line.split(" ", 1) for line in lines[1:5])
        return Note(
            fields["tenant"],
            int(fields["size"]),
            base64.b64decode(fields["root"], validate=True),
            fields["time"],
        )
    except (KeyError, ValueError):
        return None
