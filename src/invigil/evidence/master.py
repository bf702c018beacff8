"""The master key: the root of the evidence key hierarchy.

``MasterKey`` is what a cloud KMS offers (wrap, unwrap, key id);
``LocalMasterKey`` keeps the key in a file under the keys folder or takes
it from ``INVIGIL_MASTER_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from invigil.errors import Unavailable

MASTER_FILE = "master.key"
RETIRED_FOLDER = "master-retired"


class MasterKey(Protocol):
    """What a KMS offers: wrap under the current key, unwrap under a named one."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes: ...


def seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes) -> bytes:
    if sealed[:1] != b"\x01":
        raise Unavailable("a wrapped evidence key has an unknown format")
    return AESGCM(key).decrypt(sealed[1:13], sealed[13:], context)


def master_key_id(key: bytes) -> str:
    return "local-" + hashlib.sha256(b"invigil-master-key-id:" + key).hexdigest()[:24]


class LocalMasterKey:
    """A 256-bit key from ``INVIGIL_MASTER_KEY`` (base64) or ``<keys>/master.key``
    (created on first use, mode 0600). Keys replaced by :meth:`rotate` stay in
    ``<keys>/master-retired/<key id>.key`` until no tenant key needs them."""

    def __init__(self, folder: Path, env_key: str | None = None) -> None:
        self.folder = folder
        self._env_key = env_key
        self._current: bytes | None = None

    def _load(self) -> bytes:
        if self._current is None:
            if self._env_key:
                key = base64.b64decode(self._env_key)
            else:
                path = self.folder / MASTER_FILE
                if not path.exists():
                    self._write(path, AESGCM.generate_key(bit_length=256))
                key = path.read_bytes()
            if len(key) != 32:
                raise Unavailable("the master key must be 32 bytes (256 bits)")
            self._current = key
        return self._current

    def _write(self, path: Path, key: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        tmp.replace(path)

    @property
    def key_id(self) -> str:
        return master_key_id(self._load())

    def wrap(self, key: bytes, context: bytes) -> bytes:
        return seal(self._load(), key, context)

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes:
        key = self._load()
        if key_id != master_key_id(key) and not self._env_key:
            self._current = None  # another process may have rotated: read the file again
            key = self._load()
        if key_id != master_key_id(key):
            retired = self.folder / RETIRED_FOLDER / f"{key_id}.key"
            if not retired.exists():
                raise Unavailable(f"master key {key_id} is not available to this process")
            key = retired.read_bytes()
        try:
            return unseal(key, wrapped, context)
        except InvalidTag:
            raise Unavailable("a tenant key cannot be unwrapped with the master key") from None

    def rotate(self) -> str:
        """A new current key in the file (the old one is kept, retired)."""
        if self._env_key:
            raise Unavailable("the master key comes from INVIGIL_MASTER_KEY: rotate it there")
        old = self._load()
        self._write(self.folder / RETIRED_FOLDER / f"{master_key_id(old)}.key", old)
        self._write(self.folder / MASTER_FILE, AESGCM.generate_key(bit_length=256))
        self._current = None
        return self.key_id
