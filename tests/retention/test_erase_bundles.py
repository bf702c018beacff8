"""Erasing a person destroys the evidence bundles built about them before
their own expiry, in the local store and in S3 (moto's server): the
bundle's key is destroyed, its object deleted once the erasure has
committed, its row marked purged (its hash still verifies and audit verify
names the receipt); a bundle still queued is never built, one being built
throws its object away; another candidate's bundles stay. The daily purge
of an attempt's evidence takes that attempt's bundles too."""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from invigil.audit import bundle_jobs, bundle_requests
from invigil.audit import bundle_registry as registry
from invigil.audit import service as audit_service
from invigil.audit.bundle_registry import BundleSubject, Progress, Sink
from invigil.audit.models import BundleRequest
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Attempt, Candidate
from invigil.errors import Gone
from invigil.evidence import crypto
from invigil.evidence.keys import open_data_key
from invigil.evidence.models import DataKey
from invigil.evidence.service import Evidence
from invigil.retention import purge, receipts, verify
from invigil.retention.models import ObjectDeletion, Receipt
from invigil.security.keys import KeyRing, Keys
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.certification.factories import certificate, program
from tests.conftest import make_user
from tests.evidence.conftest import bucket_bytes, new_bucket
from tests.evidence.factories import REGIONS, make_evidence
from tests.retention.factories import Sat, sit

NAME = "Theodora Vasquez-Ilunga"


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[KeyRing]:
    keys = Keys(tmp_path / "keys")
    saved = dict(receipts._ring)
    receipts.use_ring(keys.audit)
    yield keys.audit
    receipts._ring.clear()
    receipts._ring.update(saved)


def _names_builder(uow: UnitOfWork, subject: BundleSubject, sink: Sink, progress: Progress) -> None:
    """Stands in for the real builders: a ZIP naming whom the subject is about."""
    from invigil.certification.models import Certificate

    if subject.kind == "attempt":
        who = uow.get(Attempt, subject.id).candidate_id
    else:
        who = uow.get(Certificate, subject.id).holder_id
    person = uow.get(Candidate, who)
    with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[arg-type]
        archive.writestr("manifest.json", f'{{"subject": "{subject.id}", "name": "{person.name}"}}')
    progress(1, 1)


@pytest.fixture
def builders() -> Iterator[None]:
    saved = registry.registered()
    registry.register("attempt", _names_builder)
    registry.register("certificate", _names_builder)
    try:
        yield
    finally:
        registry.restore(saved)


def _tenant(db: Database) -> uuid.UUID:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    return tenants.create_tenant(db, slug=slug, name=slug, region=REGIONS[0], regions=REGIONS).id


def _ask(
    db: Database, tenant: uuid.UUID, user: uuid.UUID, kind: str, subject: uuid.UUID
) -> uuid.UUID:
    with db.unit_of_work(tenant) as uow:
        row = BundleRequest(
            tenant_id=tenant, id=uuid.uuid4(), kind=kind, subject_id=subject, requested_by=user,
            with_evidence=False, state="queued", done=0, attempts=0,
        )  # fmt: skip
        uow.add(row)
        uow.flush()
        return row.id


def _row(db: Database, tenant: uuid.UUID, bundle_id: uuid.UUID) -> BundleRequest:
    with db.unit_of_work(tenant) as uow:
        row = uow.get(BundleRequest, bundle_id)
        uow.session.expunge(row)
        return row


def _plain(db: Database, tenant: uuid.UUID, evidence: Evidence, bundle_id: uuid.UUID) -> bytes:
    row = _row(db, tenant, bundle_id)
    assert row.data_key_id and row.region and row.store_key
    with db.unit_of_work(tenant) as uow:
        key = open_data_key(uow, evidence.master, row.data_key_id)
    stored = evidence.stores.for_region(row.region).get(row.store_key)
    return b"".join(crypto.decrypt(key.secret, row.id, stored))


def _key(db: Database, tenant: uuid.UUID, bundle_id: uuid.UUID) -> DataKey:
    with db.unit_of_work(tenant) as uow:
        (key,) = uow.scalars(
            select(DataKey).where(DataKey.subject_type == "bundle",
                                  DataKey.subject_id == str(bundle_id))
        )  # fmt: skip
        uow.session.expunge(key)
        return key


def _name(db: Database, tenant: uuid.UUID, sat: Sat) -> None:
    with db.unit_of_work(tenant) as uow:
        uow.get(Candidate, sat.candidate).name = NAME


@pytest.mark.parametrize("store", ["local", "s3"])
def test_erasure_destroys_the_bundles_about_the_person_before_their_expiry(
    request: pytest.FixtureRequest, db: Database, settings: Settings, tmp_path: Path,
    ring: KeyRing, builders: None, store: str,
) -> None:  # fmt: skip
    if store == "s3":
        s3 = request.getfixturevalue("s3")
        bucket = new_bucket(s3)
        evidence = make_evidence(tmp_path, per_region={REGIONS[0]: f"s3://{bucket}"})
    else:
        evidence = make_evidence(tmp_path)
    services = SimpleNamespace(evidence=evidence, settings=settings)
    tenant = _tenant(db)
    sat, other = sit(db, settings, tenant, evidence), sit(db, settings, tenant, evidence)
    _name(db, tenant, sat)
    user = make_user(db, tenant, ["tenant_admin"]).id
    _, version = program(db, tenant)
    cert = certificate(db, tenant, version, sat.candidate)
    built = {
        "attempt": _ask(db, tenant, user, "attempt", sat.attempt),
        "certificate": _ask(db, tenant, user, "certificate", cert),
        "theirs": _ask(db, tenant, user, "attempt", other.attempt),
    }
    for bundle_id in built.values():
        assert bundle_jobs.build(db, services, tenant, bundle_id) == "ready"
    waiting = _ask(db, tenant, user, "attempt", sat.attempt)
    assert NAME.encode() in _plain(db, tenant, evidence, built["attempt"])
    keys = {k: _row(db, tenant, b).store_key for k, b in built.items()}

    def stored() -> set[str]:
        if store == "s3":
            return set(bucket_bytes(s3, bucket))
        local = evidence.stores.for_region(REGIONS[0])
        return {k for k in keys.values() if k and local.exists(k)}

    assert set(keys.values()) <= stored()

    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        erased = purge.erase_person(uow, evidence, sat.candidate, reason="erasure request")
    purge.delete_pending(db, tenant, evidence)  # the job the erasure queued

    for kind in ("attempt", "certificate"):
        row = _row(db, tenant, built[kind])
        assert row.state == "purged" and row.sha256 is not None  # the row and its hash stay
        assert keys[kind] not in stored()
        key = _key(db, tenant, built[kind])
        assert key.wrapped_key is None and key.destroyed_at is not None
        with pytest.raises(Gone, match="destroyed with the data"):
            bundle_requests._downloadable(row, frozenset({"evidence:view"}))
    assert _row(db, tenant, waiting).state == "purged"
    assert bundle_jobs.build(db, services, tenant, waiting) == "skipped"
    # Another candidate's bundle: still ready, stored and readable.
    assert _row(db, tenant, built["theirs"]).state == "ready" and keys["theirs"] in stored()
    assert _plain(db, tenant, evidence, built["theirs"]).startswith(b"PK")

    with db.unit_of_work(tenant) as uow:
        (evidence_receipt,) = [
            r for r in (uow.get(Receipt, i) for i in erased.receipts) if r.data_class == "evidence"
        ]
        assert evidence_receipt.counts["rows"]["bundle_requests"] == 3
        deletions = uow.scalars(select(ObjectDeletion).where(ObjectDeletion.bundle_id.is_not(None)))
        assert {d.bundle_id for d in deletions} == {built["attempt"], built["certificate"]}
        assert all(d.deleted_at is not None for d in deletions)
        assert verify.check(uow, evidence).ok
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        report = audit_service.verify_tenant(uow, ring, _sources())
    assert report.ok
    named = [p for p in report.records.purged_records if p.startswith("bundle ")]
    assert sorted(named) == sorted(
        f"bundle {built[k]}: purged under an erasure request, policy version 0, "
        f"receipt {evidence_receipt.id}"
        for k in ("attempt", "certificate")
    )


def test_a_bundle_purged_while_it_is_built_is_thrown_away(
    db: Database, settings: Settings, tmp_path: Path, ring: KeyRing
) -> None:
    evidence = make_evidence(tmp_path)
    services = SimpleNamespace(evidence=evidence, settings=settings)
    tenant = _tenant(db)
    sat = sit(db, settings, tenant, evidence)
    user = make_user(db, tenant, ["tenant_admin"]).id
    bundle_id = _ask(db, tenant, user, "attempt", sat.attempt)

    def erased_midway(uow: UnitOfWork, subject: BundleSubject, sink: Sink, p: Progress) -> None:
        sink.write(b"PK partial bundle about the person")
        with db.unit_of_work(tenant, Actor.operator("test")) as other:
            purge.erase_person(other, evidence, sat.candidate, reason="erasure request")

    saved = registry.registered()
    registry.register("attempt", erased_midway)
    try:
        assert bundle_jobs.build(db, services, tenant, bundle_id) == "purged"
    finally:
        registry.restore(saved)
    row = _row(db, tenant, bundle_id)
    assert row.state == "purged" and row.store_key is not None
    assert not evidence.stores.for_region(REGIONS[0]).exists(row.store_key)
    assert _key(db, tenant, bundle_id).destroyed_at is not None
    purge.delete_pending(db, tenant, evidence)
    with db.unit_of_work(tenant) as uow:
        assert verify.check(uow, evidence).ok


def test_the_daily_evidence_purge_takes_the_attempts_bundles(
    db: Database, settings: Settings, tmp_path: Path, ring: KeyRing, builders: None
) -> None:
    evidence = make_evidence(tmp_path)
    services = SimpleNamespace(evidence=evidence, settings=settings)
    tenant = _tenant(db)
    sat = sit(db, settings, tenant, evidence)
    user = make_user(db, tenant, ["tenant_admin"]).id
    bundle_id = _ask(db, tenant, user, "attempt", sat.attempt)
    assert bundle_jobs.build(db, services, tenant, bundle_id) == "ready"
    key: Any = _row(db, tenant, bundle_id).store_key
    done = purge.run_tenant(
        db, tenant, evidence, now=sat.submitted_at + timedelta(days=91), classes=["evidence"]
    )
    assert done.problems == [] and done.subjects == {"evidence": 1}
    assert _row(db, tenant, bundle_id).state == "purged"
    assert not evidence.stores.for_region(REGIONS[0]).exists(key)
