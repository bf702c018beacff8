"""Ed25519 signing keys, one ring per purpose, kept under ``$INVIGIL_HOME/keys``.

A ring holds every key of one purpose (``access-token``, ``audit-checkpoint``):
the *current* key signs, every non-retired key verifies, so a rotation keeps
tokens and checkpoints signed by the previous key valid. Key ids are RFC 7638
JWK thumbprints. A purpose's keys never verify another purpose's signatures.

Several API processes on several machines must share the folder (a mounted
volume or a secret store that writes it); a cloud KMS can implement the same
two operations later.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from invigil.errors import Invalid, NotFound

ACCESS_TOKEN = "access-token"  # noqa: S105 - a key purpose, not a secret
AUDIT_CHECKPOINT = "audit-checkpoint"
PURPOSES = (ACCESS_TOKEN, AUDIT_CHECKPOINT)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the OKP JWK (members crv, kty, x in order)."""
    members = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public(key))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(members.encode()).digest())


def public_jwk(key: Ed25519PublicKey, purpose: str) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(raw_public(key)),
        "kid": thumbprint(key),
        "alg": "EdDSA",
        "use": "sig",
        "invigil_purpose": purpose,
    }


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise Invalid("only Ed25519 (OKP) public keys are supported")
    x = str(jwk["x"])
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    created_at: datetime

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


class KeyRing:
    """The keys of one purpose in ``<keys>/<purpose>/``: ``<kid>.pem`` files,
    ``current`` naming the signing key, retired keys moved to ``retired/``."""

    def __init__(self, folder: Path, purpose: str) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        self.purpose = purpose
        self.folder = folder / purpose
        self._lock = threading.Lock()
        self._cache: dict[str, SigningKey] | None = None
        self._current: str | None = None

    def _load(self) -> tuple[dict[str, SigningKey], str]:
        with self._lock:
            if self._cache is None or self._current is None:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                pointer = self.folder / "current"
                if not pointer.exists():
                    self._write_new_key()
                keys: dict[str, SigningKey] = {}
                for pem in sorted(self.folder.glob("*.pem")):
                    private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
                    if not isinstance(private, Ed25519PrivateKey):
                        continue
                    created = datetime.fromtimestamp(pem.stat().st_mtime, UTC)
                    keys[pem.stem] = SigningKey(pem.stem, private, created)
                current = pointer.read_text().strip()
                if current not in keys:
                    raise NotFound(
                        f"the current {self.purpose} key {current} is missing from {self.folder}"
                    )
                self._cache, self._current = keys, current
            return self._cache, self._current

    def _write_new_key(self) -> str:
        private = Ed25519PrivateKey.generate()
        kid = thumbprint(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.folder / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        tmp = self.folder / "current.tmp"
        tmp.write_text(kid)
        tmp.replace(self.folder / "current")
        return kid

    def current(self) -> SigningKey:
        keys, current = self._load()
        return keys[current]

    def verifying_key(self, kid: str) -> Ed25519PublicKey | None:
        keys, _ = self._load()
        found = keys.get(kid)
        return found.public if found else None

    def signing_keys(self) -> list[SigningKey]:
        keys, _ = self._load()
        return sorted(keys.values(), key=lambda k: k.created_at)

    def rotate(self) -> str:
        """Make a new current key; older keys keep verifying until retired."""
        self._load()
        with self._lock:
            kid = self._write_new_key()
            self._cache = None
        return kid

    def retire(self, kid: str) -> None:
        keys, current = self._load()
        if kid == current:
            raise Invalid("the current key cannot be retired; rotate first")
        if kid not in keys:
            raise NotFound(f"no {self.purpose} key {kid}")
        retired = self.folder / "retired"
        retired.mkdir(exist_ok=True, mode=0o700)
        (self.folder / f"{kid}.pem").replace(retired / f"{kid}.pem")
        with self._lock:
            self._cache = None

    def sign(self, message: bytes) -> tuple[str, bytes]:
        key = self.current()
        return key.kid, key.private.sign(message)

    def verify(self, kid: str, message: bytes, signature: bytes) -> bool:
        public = self.verifying_key(kid)
        return public is not None and verify_signature(public, message, signature)

    def jwks(self) -> list[dict[str, str]]:
        return [public_jwk(k.public, self.purpose) for k in self.signing_keys()]

    def all_public(self) -> dict[str, Ed25519PublicKey]:
        """Every key ever used, retired ones included: old checkpoints stay verifiable."""
        found = {k.kid: k.public for k in self.signing_keys()}
        for pem in sorted((self.folder / "retired").glob("*.pem")):
            private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
            if isinstance(private, Ed25519PrivateKey):
                found[pem.stem] = private.public_key()
        return found


def verify_signature(public: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class Keys:
    """All rings of one installation."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.access = KeyRing(folder, ACCESS_TOKEN)
        self.audit = KeyRing(folder, AUDIT_CHECKPOINT)

    def ring(self, purpose: str) -> KeyRing:
        return {ACCESS_TOKEN: self.access, AUDIT_CHECKPOINT: self.audit}[purpose]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The token JWKS: access-token keys only. A relying service picks a
        key by ``kid`` from here; a checkpoint key in it would let a checkpoint
        signer mint tokens that service accepts."""
        return {"keys": self.access.jwks()}

    def audit_keys(self) -> dict[str, Any]:
        """Every checkpoint key ever used (retired ones verify old checkpoints),
        in a document of its own and never in the token JWKS. One ring signs
        every tenant's checkpoints; the export of a log names the kid it needs."""
        return {
            "purpose": AUDIT_CHECKPOINT,
            "keys": [
                public_jwk(key, AUDIT_CHECKPOINT) | {"kid": kid}
                for kid, key in self.audit.all_public().items()
            ],
        }
