"""The streaming format: round trips at every boundary, and every way of
moving, dropping, adding or altering stored bytes is detected."""

from __future__ import annotations

import os
import uuid

import pytest

from invigil.evidence import crypto
from invigil.evidence.crypto import CHUNK_SIZE, HEADER, TAG, Corrupt, decrypt, encrypt

KEY = os.urandom(32)
OID = uuid.uuid4()


def sealed(data: bytes, chunk_size: int = CHUNK_SIZE, oid: uuid.UUID = OID) -> bytes:
    return b"".join(encrypt(KEY, oid, [data], chunk_size=chunk_size))


def opened(blob: bytes, oid: uuid.UUID = OID, key: bytes = KEY, piece: int = 7777) -> bytes:
    return b"".join(decrypt(key, oid, (blob[i : i + piece] for i in range(0, len(blob), piece))))


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 200_003]
)
def test_round_trip_at_every_boundary(size: int) -> None:
    data = os.urandom(size)
    blob = sealed(data)
    assert len(blob) == crypto.encrypted_size(size)
    assert opened(blob) == data
    assert opened(blob, piece=1) == data  # any way the store slices the stream


def test_input_pieces_of_any_size_give_the_same_plaintext() -> None:
    data = os.urandom(150_000)
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)] + [b""]
    assert opened(b"".join(encrypt(KEY, OID, pieces))) == data


def test_same_plaintext_never_gives_the_same_bytes() -> None:
    data = os.urandom(1000)
    assert sealed(data) != sealed(data)


def _chunks(blob: bytes, chunk_size: int) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER.size :]
    step = chunk_size + TAG
    return blob[: HEADER.size], [body[i : i + step] for i in range(0, len(body), step)]


SMALL = 1024  # small chunks: many of them in a few KB


@pytest.mark.parametrize(
    "attack",
    [
        "flip a ciphertext bit",
        "flip a tag bit",
        "drop the last chunk",
        "drop a middle chunk",
        "swap two chunks",
        "append a copy of a chunk",
        "truncate inside a chunk",
        "truncate to the header",
        "change the chunk size in the header",
        "change the salt",
        "splice another object's chunk",
    ],
)
def test_tampering_is_detected(attack: str) -> None:
    data = os.urandom(SMALL * 4 + 100)
    header, chunks = _chunks(sealed(data, SMALL), SMALL)
    assert len(chunks) == 5
    if attack == "flip a ciphertext bit":
        chunks[1] = bytes([chunks[1][0] ^ 1]) + chunks[1][1:]
    elif attack == "flip a tag bit":
        chunks[4] = chunks[4][:-1] + bytes([chunks[4][-1] ^ 0x80])
    elif attack == "drop the last chunk":
        chunks.pop()
    elif attack == "drop a middle chunk":
        chunks.pop(2)
    elif attack == "swap two chunks":
        chunks[1], chunks[2] = chunks[2], chunks[1]
    elif attack == "append a copy of a chunk":
        chunks.append(chunks[1])
    elif attack == "truncate inside a chunk":
        chunks[4] = chunks[4][:10]
    elif attack == "truncate to the header":
        chunks = []
    elif attack == "change the chunk size in the header":
        header = header[:5] + (SMALL * 2).to_bytes(4, "big") + header[9:]
    elif attack == "change the salt":
        header = header[:9] + bytes([header[9] ^ 1]) + header[10:]
    elif attack == "splice another object's chunk":
        _, others = _chunks(sealed(data, SMALL), SMALL)
        chunks[1] = others[1]
    with pytest.raises(Corrupt):
        opened(header + b"".join(chunks))


def test_an_object_copied_under_another_id_does_not_open() -> None:
    with pytest.raises(Corrupt):
        opened(sealed(b"hello"), oid=uuid.uuid4())


def test_the_wrong_key_does_not_open() -> None:
    with pytest.raises(Corrupt):
        opened(sealed(b"hello"), key=os.urandom(32))


def test_garbage_and_foreign_formats_are_refused_clearly() -> None:
    with pytest.raises(Corrupt, match="truncated"):
        opened(b"IVEV")
    with pytest.raises(Corrupt, match="unknown format"):
        opened(b"\xff\xd8\xff" + bytes(100))


def test_memory_stays_bounded_while_streaming() -> None:
    """Encrypting 32 MiB from a generator never holds more than a few chunks."""

    def source() -> object:
        for _ in range(512):
            yield os.urandom(CHUNK_SIZE)

    largest = max(len(c) for c in encrypt(KEY, OID, source()))  # type: ignore[arg-type]
    assert largest <= CHUNK_SIZE + TAG
