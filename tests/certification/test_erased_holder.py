"""What a relying party sees once a certificate's holder is erased: the
public verification page still gives the status, says "Holder erased" and
shows no name (never a 500); the credential is no longer served (410,
pointing at the page); the lapse escalation mailed to a group's managers,
which named the holder, is gone from the outbox. Another holder's
certificate, credential and mail are untouched, and audit verify passes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit import service as audit_service
from invigil.certification import lifecycle, verify
from invigil.certification.models import Notice
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.delivery import mail
from invigil.delivery.models import Candidate, OutboxMail
from invigil.retention import purge, receipts
from invigil.security.keys import KeyRing, Keys
from invigil.settings import Settings
from invigil.web.public_limits import RateLimiter
from tests.certification.factories import NOW, certificate, holder, program
from tests.conftest import BoundDatabase, make_tenant
from tests.evidence.factories import make_evidence

NAME = "Wilhelmina Achterberg-Nakamura"
EMAIL = "w.achterberg.nakamura@example.org"


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[KeyRing]:
    keys = Keys(tmp_path / "keys")
    saved = dict(receipts._ring)
    receipts.use_ring(keys.audit)
    yield keys.audit
    receipts._ring.clear()
    receipts._ring.update(saved)


@pytest.fixture
def fresh(app: FastAPI) -> FastAPI:
    app.state.verify_recent = verify.Recent(0)
    app.state.public_limiter = RateLimiter(1_000_000, 1_000_000, 100)
    return app


def _escalation(db: BoundDatabase, tenant: uuid.UUID, cert: uuid.UUID, name: str) -> uuid.UUID:
    """The lapse escalation as the recertification pass leaves it: a mail to a
    manager naming the holder, and the notice that keeps its id."""
    with db.unit_of_work(tenant) as uow:
        sent = mail.queue_message(
            uow, f"manager-{uuid.uuid4().hex[:6]}@employer.test",
            f"Lapsed certificate: {name}", f"{name} has not renewed their certificate.",
            smtp=False,
        )  # fmt: skip
        uow.add(
            Notice(
                tenant_id=tenant, id=uuid.uuid4(), certificate_id=cert, kind="escalation",
                step="escalation", due_at=NOW, done_at=NOW + timedelta(days=1),
                details={"holder_mail_id": None, "manager_mail_ids": [str(sent.id)],
                         "manager_ids": [str(uuid.uuid4())]},
            )
        )  # fmt: skip
        return sent.id


def test_a_relying_party_sees_the_status_and_that_the_holder_was_erased(
    fresh: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings,
    tmp_path: Path, ring: KeyRing,
) -> None:  # fmt: skip
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant, name="Crane Operation", validity_months=120)
    person = holder(db, tenant, NAME)
    with db.unit_of_work(tenant) as uow:
        uow.get(Candidate, person).email = EMAIL
    cert = certificate(db, tenant, version, person)
    other = certificate(db, tenant, version, holder(db, tenant, "Olu Other"))
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, cert, "suspended", "under review", now=NOW + timedelta(days=2))
    escalated = _escalation(db, tenant, cert, NAME)
    kept = _escalation(db, tenant, other, "Olu Other")
    before = client.get(f"/verify/{cert}")
    assert before.status_code == 200 and NAME in before.text
    assert client.get(f"/credentials/{cert}").status_code == 200

    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        erased = purge.erase_person(uow, make_evidence(tmp_path), person, reason="request")
    assert erased.receipts

    page = client.get(f"/verify/{cert}")
    assert page.status_code == 200
    assert 'class="verdict suspended"' in page.text  # the status still holds
    assert "Holder erased" in page.text and "Crane Operation" in page.text
    for gone in (NAME, EMAIL, purge.ERASED_NAME, "erased.invalid", "/credentials/"):
        assert gone not in page.text
    for fmt in ("", "?format=json"):
        r = client.get(f"/credentials/{cert}{fmt}")
        assert r.status_code == 410, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["verify"] == f"/verify/{cert}" and EMAIL not in r.text
    # Another holder: as before.
    theirs = client.get(f"/verify/{other}")
    assert "Olu Other" in theirs.text and "Holder erased" not in theirs.text
    assert client.get(f"/credentials/{other}").status_code == 200
    with db.unit_of_work(tenant) as uow:
        left = set(uow.scalars(select(OutboxMail.id)))
        assert escalated not in left and kept in left
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        report = audit_service.verify_tenant(uow, ring, _sources())
    assert report.ok


def test_the_page_in_other_languages_says_the_holder_was_erased(
    fresh: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings,
    tmp_path: Path, ring: KeyRing,
) -> None:  # fmt: skip
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant, validity_months=12)
    person = holder(db, tenant, NAME)
    cert = certificate(db, tenant, version, person)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        purge.erase_person(uow, make_evidence(tmp_path), person, reason="request")
    words = {"de": "Inhaber gelöscht", "fr": "Titulaire effacé", "es": "Titular borrado",
             "ar": "تم محو صاحب الشهادة"}  # fmt: skip
    for lang, phrase in words.items():
        r = client.get(f"/verify/{cert}?lang={lang}")
        assert r.status_code == 200 and phrase in r.text and NAME not in r.text, lang
