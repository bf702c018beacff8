"""Streaming AES-256-GCM for objects of any size, in fixed-size chunks.

Layout (format 1)::

    header = b"IVEV" | version (1) | chunk_size (4, big-endian) | salt (16) | nonce prefix (7)
    body   = chunk_0 | chunk_1 | ... | chunk_n     (each: ciphertext + 16-byte tag)

Each object is encrypted under its own key, HKDF-SHA256(data key, salt,
info = object id), so a data key shared by a candidate's objects never meets
the same nonce twice. The nonce of chunk ``i`` is ``prefix | i (4) | final (1)``
(the STREAM construction), and the associated data binds the whole header,
the object id, the chunk index and the final flag: reordered, dropped,
truncated or appended chunks, a swapped header or an object copied under
another id all fail authentication. Every chunk but the last is full; the
last is short (possibly empty) and the only one flagged final.
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from invigil.errors import DomainError

MAGIC = b"IVEV"
FORMAT = 1
CHUNK_SIZE = 64 * 1024
TAG = 16
HEADER = struct.Struct(">4sBI16s7s")  # 32 bytes
_MAX_CHUNKS = 2**32


class Corrupt(DomainError):
    """Stored bytes that fail authentication: tampered, truncated or misplaced."""

    status = 500
    slug = "evidence-corrupt"


def _object_key(data_key: bytes, salt: bytes, object_id: uuid.UUID) -> AESGCM:
    if len(data_key) != 32:
        raise ValueError("a data key has 32 bytes")
    okm = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"invigil-evidence:" + object_id.bytes
    ).derive(data_key)
    return AESGCM(okm)


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">I?", index, final)


def _aad(header: bytes, object_id: uuid.UUID, index: int, final: bool) -> bytes:
    return header + object_id.bytes + struct.pack(">Q?", index, final)


def _rechunk(stream: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The stream cut into pieces of exactly ``size`` bytes (the last may be short)."""
    buffer = bytearray()
    for piece in stream:
        if not piece:
            continue
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    yield bytes(buffer)  # possibly empty: there is always a final chunk


def encrypt(
    data_key: bytes,
    object_id: uuid.UUID,
    plaintext: Iterable[bytes],
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield the header, then one encrypted chunk at a time (one chunk of lookahead)."""
    salt, prefix = os.urandom(16), os.urandom(7)
    header = HEADER.pack(MAGIC, FORMAT, chunk_size, salt, prefix)
    aead = _object_key(data_key, salt, object_id)
    yield header
    pending: bytes | None = None
    index = 0
    for chunk in _rechunk(plaintext, chunk_size):
        if pending is not None:
            yield aead.encrypt(
                _nonce(prefix, index, False), pending, _aad(header, object_id, index, False)
            )
            index += 1
            if index >= _MAX_CHUNKS:
                raise ValueError("object too large for one stream")
        pending = chunk
    assert pending is not None
    yield aead.encrypt(_nonce(prefix, index, True), pending, _aad(header, object_id, index, True))


def encrypted_size(plaintext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    chunks = plaintext_size // chunk_size + 1  # full chunks, then a short (maybe empty) final
    return HEADER.size + plaintext_size + chunks * TAG


def decrypt(data_key: bytes, object_id: uuid.UUID, stored: Iterable[bytes]) -> Iterator[bytes]:
    """Yield plaintext chunk by chunk; raise Corrupt at the first chunk that
    fails (callers that must not release unverified bytes buffer a chunk)."""
    pieces = _rechunk_first(stored)
    header = next(pieces, b"")
    if len(header) != HEADER.size:
        raise Corrupt(f"evidence object {object_id} is truncated (no complete header)")
    magic, version, chunk_size, salt, prefix = HEADER.unpack(header)
    if magic != MAGIC or version != FORMAT or not 0 < chunk_size <= 64 * 1024 * 1024:
        raise Corrupt(f"evidence object {object_id} has an unknown format")
    aead = _object_key(data_key, salt, object_id)
    blocks = _rechunk(pieces, chunk_size + TAG)
    current = next(blocks)
    index = 0
    for following in blocks:
        if not following:  # the stream ended exactly at a block boundary
            break
        yield _open(aead, header, object_id, prefix, index, False, current)
        current = following
        index += 1
    yield _open(aead, header, object_id, prefix, index, True, current)


def _rechunk_first(stored: Iterable[bytes]) -> Iterator[bytes]:
    """The header as the first piece, then the rest as it comes."""
    buffer = bytearray()
    iterator = iter(stored)
    for piece in iterator:
        buffer += piece
        if len(buffer) >= HEADER.size:
            break
    yield bytes(buffer[: HEADER.size])
    if len(buffer) > HEADER.size:
        yield bytes(buffer[HEADER.size :])
    yield from iterator


def _open(
    aead: AESGCM,
    header: bytes,
    object_id: uuid.UUID,
    prefix: bytes,
    index: int,
    final: bool,
    block: bytes,
) -> bytes:
    try:
        return aead.decrypt(
            _nonce(prefix, index, final), block, _aad(header, object_id, index, final)
        )
    except InvalidTag:
        raise Corrupt(
            f"evidence object {object_id} failed its integrity check at chunk {index}: "
            "the stored bytes were altered, truncated or extended"
        ) from None
