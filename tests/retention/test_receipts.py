"""Deletion receipts: written once, their hash anchored and their signature
checked by `audit verify`, online and from an export; a purged record is
reported under its receipt, and an export cannot pass off a changed record
as purged without the receipt that purged it."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil.audit import checkpoints
from invigil.audit import service as audit_service
from invigil.audit.canonical import canonical_json
from invigil.audit.offline import verify_export
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.evidence.service import Evidence
from invigil.retention import purge, receipts
from invigil.retention.models import Receipt
from invigil.security.keys import KeyRing, Keys, public_jwk
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.evidence.factories import make_evidence
from tests.retention.factories import Sat, sit


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[KeyRing]:
    keys = Keys(tmp_path / "keys")
    saved = dict(receipts._ring)
    receipts.use_ring(keys.audit)
    yield keys.audit
    receipts._ring.clear()
    receipts._ring.update(saved)


@pytest.fixture
def purged(
    database: Database, settings: Settings, tmp_path: Path, ring: KeyRing
) -> tuple[Sat, list[uuid.UUID], Evidence]:
    """A committed tenant whose attempt's evidence and events were purged."""
    evidence = make_evidence(tmp_path)
    tenant = make_tenant(database, settings).id
    sat = sit(database, settings, tenant, evidence)
    run = purge.run_tenant(
        database, tenant, evidence, now=sat.submitted_at + timedelta(days=366),
        classes=["evidence", "proctoring_events"],
    )  # fmt: skip
    assert len(run.receipts) == 2
    return sat, run.receipts, evidence


@pytest.fixture
def superuser(urls: DatabaseUrls) -> Iterator[Connection]:
    """A superuser with the triggers off for its session, rolled back."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn
        tx.rollback()
    engine.dispose()


def _as_owner(conn: Connection, tenant: uuid.UUID, settings: Settings) -> UnitOfWork:
    """Read the tampered rows in the superuser's transaction as the app role
    does: bound to ``tenant`` by row-level security, so the report holds this
    tenant's records only, whatever other tests left in the database."""
    conn.exec_driver_sql(f"SET LOCAL ROLE {settings.db_app_role}")
    return UnitOfWork.begin(Session(bind=conn), tenant, Actor.operator())


def _export(uow: UnitOfWork, ring: KeyRing) -> dict[str, Any]:
    data = audit_service.export(uow, ring, "t", _sources())
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def test_a_receipt_verifies_with_the_public_key_alone(
    database: Database, purged: tuple[Sat, list[uuid.UUID], Evidence], ring: KeyRing
) -> None:
    sat, ids, _ = purged
    with database.unit_of_work(sat.tenant) as uow:
        row = uow.get(Receipt, ids[0])
        handed = receipts.document_with_signature(row)
        jwk = public_jwk(ring.all_public()[row.key_id], ring.purpose)  # as published
        with pytest.raises(DBAPIError):  # written once, for every role
            uow.session.execute(text("UPDATE retention_receipts SET reason = 'x'"))
    raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    signature = base64.urlsafe_b64decode(handed["signature"] + "==")
    public = Ed25519PublicKey.from_public_bytes(raw)
    public.verify(signature, canonical_json(handed["document"]))  # raises if it does not verify
    assert handed["document"]["tenant_id"] == str(sat.tenant)
    assert handed["document"]["subjects"] == [{"type": "attempt", "id": str(sat.attempt)}]
    assert hashlib.sha256(canonical_json(handed["document"])).hexdigest() == handed["sha256"]


def test_audit_verify_checks_receipts_and_names_purged_records(
    database: Database,
    purged: tuple[Sat, list[uuid.UUID], Evidence],
    ring: KeyRing,
) -> None:
    sat, ids, _ = purged
    with database.unit_of_work(sat.tenant, Actor.operator()) as uow:
        checkpoints.seal(uow, ring)
        report = audit_service.verify_tenant(uow, ring, _sources())
        data = _export(uow, ring)
    assert report.ok and report.records is not None, report.records
    assert report.records.purged_records == [
        f"events {sat.attempt}: purged under policy version 0, receipt {ids[1]}"
    ]
    assert data["purged"] == [
        {"kind": "events", "id": str(sat.attempt), "under": f"policy version 0, receipt {ids[1]}"}
    ]
    offline = verify_export(data)
    assert offline.ok and offline.records is not None
    assert sum(offline.records.purged.values()) == 1
    # Without the receipt that purged it, the export cannot excuse the change.
    data["records"] = [r for r in data["records"] if r["id"] != str(ids[1])]
    tampered = verify_export(data)
    assert not tampered.ok and tampered.records is not None
    assert tampered.records.first_bad is not None
    assert tampered.records.first_bad["kind"] in ("events", "retention_receipt")


def test_a_forged_or_altered_receipt_is_named(
    superuser: Connection,
    settings: Settings,
    purged: tuple[Sat, list[uuid.UUID], Evidence],
    ring: KeyRing,
) -> None:
    sat, ids, _ = purged
    superuser.exec_driver_sql(
        "UPDATE retention_receipts SET signature = decode(repeat('00', 64), 'hex') WHERE id = %s",
        (ids[0],),
    )
    superuser.exec_driver_sql(
        "UPDATE retention_receipts SET reason = 'nothing happened' WHERE id = %s", (ids[1],)
    )
    try:
        report = audit_service.verify_tenant(
            _as_owner(superuser, sat.tenant, settings), ring, _sources()
        )
    finally:
        superuser.exec_driver_sql("RESET ROLE")
    assert not report.ok and report.records is not None
    problems = "\n".join(report.records.problems)
    assert f"retention_receipt {ids[0]}: its signature" in problems
    # the altered one no longer matches what was signed (nor its anchor)
    assert f"retention_receipt {ids[1]}: its signature" in problems


def test_the_documented_example_verifies_as_the_format_page_says() -> None:
    example = Path(__file__).resolve().parents[2] / "docs/formats/examples/deletion-receipt.json"
    receipt = json.loads(example.read_text())
    m = json.dumps(
        receipt["document"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert m == canonical_json(receipt["document"])
    assert hashlib.sha256(m).hexdigest() == receipt["sha256"]
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(receipt["key"]["x"] + "="))
    key.verify(base64.urlsafe_b64decode(receipt["signature"] + "=="), m)
    from invigil.security.keys import thumbprint

    assert thumbprint(key) == receipt["key_id"] == receipt["key"]["kid"]
    page = (example.parents[1] / "deletion-receipt.md").read_text()
    assert m.decode() in page and receipt["sha256"] in page
