"""Small secrets at rest (TOTP seeds): AES-256-GCM under a key file in
``$INVIGIL_HOME/keys``, bound to the row they belong to (associated data).
The same file keys the audit log's keyed hashes (:meth:`SecretBox.pseudonym`,
through HKDF: a separate key, see ``invigil.security.pseudonyms``)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from invigil.errors import Unavailable
from invigil.security import pseudonyms
from invigil.security.keyfile import secret_file

_VERSION = b"\x01"


class SecretBox:
    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._aead: AESGCM | None = None
        self._tenant_keys: dict[uuid.UUID, bytes] = {}

    def _key(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(secret_file(self.key_file))  # 32 bytes: AES-256
        return self._aead

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._key().encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        if sealed[:1] != _VERSION:
            raise Unavailable("a stored secret has an unknown format")
        try:
            return self._key().decrypt(sealed[1:13], sealed[13:], context.encode())
        except InvalidTag as exc:
            raise Unavailable("a stored secret cannot be decrypted with this key") from exc

    def pseudonym(self, tenant: uuid.UUID, kind: str, value: str) -> str:
        """``value`` (an e-mail, a network address) as the tenant's keyed hash."""
        key = self._tenant_keys.get(tenant)
        if key is None:
            key = self._tenant_keys[tenant] = pseudonyms.tenant_key(
                secret_file(self.key_file), tenant
            )
        return pseudonyms.keyed_hash(key, kind, value)
