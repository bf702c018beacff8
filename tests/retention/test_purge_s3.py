"""The purge against an S3 store (moto's server): an expired attempt's
objects leave the bucket after the commit, a crash before the deletes is
finished by the next run, and another tenant's objects stay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.errors import Gone
from invigil.evidence import service
from invigil.retention import purge, receipts, verify
from invigil.retention.models import Receipt
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.evidence.conftest import bucket_bytes, new_bucket
from tests.evidence.factories import REGIONS, make_evidence
from tests.retention.factories import sit


@pytest.fixture(autouse=True)
def ring(tmp_path: Path) -> Iterator[None]:
    saved = dict(receipts._ring)
    receipts.use_ring(Keys(tmp_path / "keys").audit)
    yield
    receipts._ring.clear()
    receipts._ring.update(saved)


def _tenant(db: Database) -> uuid.UUID:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    return tenants.create_tenant(db, slug=slug, name=slug, region=REGIONS[0], regions=REGIONS).id


def test_expired_evidence_leaves_the_bucket_and_a_crash_is_resumed(
    db: Database, settings: Settings, s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = new_bucket(s3)
    evidence = make_evidence(tmp_path, per_region={REGIONS[0]: f"s3://{bucket}"})
    tenant, other = _tenant(db), _tenant(db)
    sat = sit(db, settings, tenant, evidence, objects=2)
    kept = sit(db, settings, other, evidence)
    assert len(bucket_bytes(s3, bucket)) == 3
    now = sat.submitted_at + timedelta(days=91)

    def killed(*args: Any, **kwargs: Any) -> int:
        raise SystemExit("killed after the commit")

    real = purge.delete_pending
    calls: list[int] = []

    def crash_second(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        return real(*args, **kwargs) if len(calls) == 1 else killed()

    monkeypatch.setattr(purge, "delete_pending", crash_second)
    with pytest.raises(SystemExit):
        purge.run_tenant(db, tenant, evidence, now=now, classes=["evidence"])
    monkeypatch.setattr(purge, "delete_pending", real)
    assert len(bucket_bytes(s3, bucket)) == 3  # committed, not yet deleted
    with db.unit_of_work(tenant) as uow:
        check = verify.check(uow, evidence)
        assert not check.ok and "still waiting to be deleted" in check.problems[0]

    done = purge.run_tenant(db, tenant, evidence, now=now, classes=["evidence"])
    assert done.objects_deleted == 2 and done.problems == [] and done.receipts == []
    with db.unit_of_work(kept.tenant) as uow:
        left = service.get_object(uow, kept.objects[0]).store_key
    assert list(bucket_bytes(s3, bucket)) == [left]
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        (row,) = uow.scalars(select(Receipt).where(Receipt.data_class == "evidence"))
        assert sorted(row.objects_deleted) == sorted(str(o) for o in sat.objects)
        assert receipts.view(row).signature_ok
        with pytest.raises(Gone):
            service.read_all(uow, evidence, sat.objects[0])
    # The verification looks in the bucket: bytes put back are found.
    with db.unit_of_work(tenant) as uow:
        obj = service.get_object(uow, sat.objects[0])
        evidence.stores.for_region(obj.region).put(obj.store_key, [b"IVEV-restored"])
        problems = verify.check(uow, evidence).problems
    assert problems == [f"object {obj.id} (receipt {row.id}) is still in the {obj.region} store"]
