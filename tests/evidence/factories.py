"""Evidence for tests: sample bytes of each type, an Evidence on temporary
folders, and the factory the generated authorization tests use."""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

from invigil.db.engine import Database
from invigil.evidence import service
from invigil.evidence.master import LocalMasterKey
from invigil.evidence.service import Evidence
from invigil.evidence.signed_urls import UrlSigner
from invigil.evidence.stores import RegionStores
from invigil.settings import Settings
from invigil.tenants.models import Tenant

MARKER = b"CANDIDATE-PLAINTEXT-MARKER-7f3a"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
WEBM_HEAD = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04"
    b"\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02"
)
REGIONS = ("eu-central", "us-east", "ap-southeast")


def jpeg(size: int = 20_000) -> bytes:
    """JPEG-looking bytes with a recognisable marker repeated inside."""
    body = (MARKER + os.urandom(32)) * (size // (len(MARKER) + 32) + 1)
    return JPEG_HEAD + body[: max(size - len(JPEG_HEAD) - 2, 0)] + b"\xff\xd9"


def png(size: int = 5_000) -> bytes:
    return PNG_HEAD + MARKER + os.urandom(max(size - len(PNG_HEAD) - len(MARKER), 0))


def webm(size: int = 50_000) -> bytes:
    return WEBM_HEAD + MARKER + os.urandom(max(size - len(WEBM_HEAD) - len(MARKER), 0))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_evidence(
    root: Path, default: str = "local", per_region: dict[str, str] | None = None
) -> Evidence:
    return Evidence(
        RegionStores(REGIONS, default, root / "objects", per_region),
        LocalMasterKey(root / "keys"),
        UrlSigner(root / "keys" / "evidence-url.key"),
    )


_FACTORY_EVIDENCE: Evidence | None = None


def use_settings(settings: Settings) -> None:
    """Store the factory's objects as the tests' app does (its master key):
    a route that opens the tenant's keys later (an export, a bundle) must be
    able to unwrap the key the factory made."""
    global _FACTORY_EVIDENCE
    _FACTORY_EVIDENCE = Evidence.from_settings(settings)


def object_factory(db: Database, tenant: Tenant) -> str:
    """A real stored snapshot of ``tenant`` (for the cross-tenant matrix)."""
    global _FACTORY_EVIDENCE
    if _FACTORY_EVIDENCE is None:
        _FACTORY_EVIDENCE = make_evidence(Path(tempfile.mkdtemp(prefix="invigil-evidence-")))
    with db.unit_of_work(tenant.id) as uow:
        obj = service.store(
            uow,
            _FACTORY_EVIDENCE,
            subject_type="candidate",
            subject_id=str(uuid.uuid4()),
            kind_name="snapshot",
            data=[jpeg(2_000)],
        )
        return str(obj.id)
