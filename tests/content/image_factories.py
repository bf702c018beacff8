"""Image bytes for tests (a real PNG, JPEG-, GIF- and WebP-looking bytes)
and the factory the generated authorization tests use for ``image_id``."""

from __future__ import annotations

import os
import struct
import uuid
import zlib

from invigil.content import images
from invigil.db.engine import Database
from invigil.tenants.models import Tenant
from tests.content.factories import make_question


def png(width: int = 2, height: int = 2, seed: bytes = b"") -> bytes:
    """A valid RGB PNG; ``seed`` varies the pixels (so the bytes differ)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    pixels = (seed or os.urandom(8)) * (width * height * 3)
    rows = b"".join(
        b"\x00" + pixels[(y * width * 3) : ((y + 1) * width * 3)] for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(size: int = 4_000) -> bytes:
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return head + os.urandom(max(size - len(head) - 2, 0)) + b"\xff\xd9"


def gif() -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00"
        b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp() -> bytes:
    payload = b"WEBPVP8L" + struct.pack("<I", 10) + os.urandom(10)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def make_image(db: Database, tenant_id: uuid.UUID, question_id: uuid.UUID | None = None) -> str:
    question_id = question_id or make_question(db, tenant_id)
    with db.unit_of_work(tenant_id) as uow:
        return str(images.attach(uow, question_id, "diagram.png", png()).id)


# For tests/identity/test_authorization.py FACTORIES.
def image_factory(db: Database, tenant: Tenant) -> str:
    return make_image(db, tenant.id)
