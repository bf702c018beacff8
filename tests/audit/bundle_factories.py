"""A bundle builder for the tests, until the real attempt builder is wired:
it writes ``members`` members of ``member_size`` bytes each, produced by a
generator (never held whole), through ``zipfile`` onto the unseekable sink,
reporting progress per member; ``fail_at`` makes it raise midway."""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from invigil.audit import bundle_registry as registry
from invigil.audit.bundle_registry import BundleSubject, Progress, Sink
from invigil.audit.models import BundleRequest
from invigil.db.engine import Database
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.tenants.models import Tenant
from tests.conftest import make_user
from tests.delivery.factories import attempt_factory

PIECE = 64 * 1024


@dataclass
class Shape:
    members: int = 3
    member_size: int = 200_000
    fail_at: int | None = None


def content(index: int, size: int) -> Iterator[bytes]:
    """Deterministic, incompressible-looking bytes of one member."""
    seed = hashlib.sha256(f"member-{index}".encode()).digest()
    block = (seed * (PIECE // len(seed) + 1))[:PIECE]
    left = size
    while left > 0:
        yield block[: min(PIECE, left)]
        left -= PIECE


def sample_builder(shape: Shape) -> registry.Builder:
    def build(uow: UnitOfWork, subject: BundleSubject, sink: Sink, progress: Progress) -> None:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
            archive.writestr("manifest.json", f'{{"subject": "{subject.id}"}}')
            for i in range(shape.members):
                if shape.fail_at == i:
                    raise Invalid("the recording chunk 7 is missing from the store")
                with archive.open(f"evidence/recording-{i:04d}.webm", "w", force_zip64=True) as out:
                    for piece in content(i, shape.member_size):
                        out.write(piece)
                progress(i + 1, shape.members)

    return build


def bundle_factory(db: Database, tenant: Tenant) -> str:
    """A queued bundle row of a real attempt of ``tenant`` (for the generated tests)."""
    attempt_id = uuid.UUID(attempt_factory(db, tenant))
    user = make_user(db, tenant.id, ["results_viewer"])
    with db.unit_of_work(tenant.id) as uow:
        row = BundleRequest(
            tenant_id=tenant.id,
            id=uuid.uuid4(),
            kind="attempt",
            subject_id=attempt_id,
            requested_by=user.id,
            with_evidence=False,
            state="queued",
            done=0,
            attempts=0,
        )
        uow.add(row)
        uow.flush()
        return str(row.id)
