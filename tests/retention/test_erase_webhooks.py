"""Erasing a person reaches the webhook bodies sent about them: every stored
body that named them loses them (the delivery row, its state and the hash
of what was sent stay), the receivers' answers kept for those deliveries
are blanked, a delivery still waiting with nothing left to send is
cancelled, a body about several people keeps the others, another
candidate's deliveries are untouched, and audit verify passes naming the
purge. The daily purge of the identity class does the same."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from invigil.audit import service as audit_service
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Candidate
from invigil.errors import Conflict
from invigil.evidence.service import Evidence
from invigil.retention import purge, receipts, verify
from invigil.retention.models import Receipt
from invigil.security.keys import KeyRing, Keys
from invigil.settings import Settings
from invigil.webhooks import erasure, sending, service
from invigil.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for
from tests.evidence.factories import make_evidence
from tests.retention.factories import Sat, sit
from tests.webhooks.factories import EVENT, make_endpoint

NAME = "Zelda Quartermain-Oyelaran"
EMAIL = "zelda.q.oyelaran@example.org"
REF = "HR-ZQO-774411"
OTHER_NAME = "Bartholomew Ngata"


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[KeyRing]:
    keys = Keys(tmp_path / "keys")
    saved = dict(receipts._ring)
    receipts.use_ring(keys.audit)
    yield keys.audit
    receipts._ring.clear()
    receipts._ring.update(saved)


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    return make_evidence(tmp_path)


def _named(db: Database, settings: Settings, tenant: uuid.UUID, evidence: Evidence) -> Sat:
    sat = sit(db, settings, tenant, evidence, email=EMAIL)
    with db.unit_of_work(tenant) as uow:
        person = uow.get(Candidate, sat.candidate)
        person.name, person.external_ref = NAME, REF
    return sat


def _emit(db: Database, tenant: uuid.UUID, data: dict[str, Any], about: list[uuid.UUID]) -> Any:
    with db.unit_of_work(tenant) as uow:
        before = set(uow.scalars(select(WebhookDelivery.id)))
        service.emit(uow, EVENT, data, about)
        (made,) = uow.scalars(select(WebhookDelivery).where(WebhookDelivery.id.not_in(before)))
        return made


def _row(db: Database, tenant: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    with db.unit_of_work(tenant) as uow:
        row = service.get_delivery(uow, delivery_id)
        uow.session.expunge(row)
        return row


def _holds_person(body: bytes, sat: Sat) -> list[str]:
    text = body.decode().casefold()
    return [w for w in (NAME, EMAIL, REF, str(sat.candidate)) if w.casefold() in text]


def test_erasure_rewrites_the_bodies_about_the_person_and_nothing_else(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = _named(db, settings, tenant, evidence)
    other = sit(db, settings, tenant, evidence)
    box = kit_for(settings).box
    make_endpoint(db, tenant, box, names=[EVENT])
    alone = _emit(
        db, tenant,
        {"candidate_id": str(sat.candidate), "name": NAME, "email": EMAIL, "reference": REF,
         "percent": "81.50"},
        [sat.candidate],
    )  # fmt: skip
    delivered = _emit(db, tenant, {"candidate_id": str(sat.candidate), "name": NAME},
                      [sat.candidate])  # fmt: skip
    both = _emit(
        db, tenant,
        {"run_id": "r-1", "entries": [
            {"rank": 1, "candidate_id": str(other.candidate), "name": OTHER_NAME},
            {"rank": 2, "candidate_id": str(sat.candidate), "name": NAME},
        ]},
        [other.candidate, sat.candidate],
    )  # fmt: skip
    theirs = _emit(db, tenant, {"candidate_id": str(other.candidate), "name": OTHER_NAME},
                   [other.candidate])  # fmt: skip
    # One delivery went out, and the receiver's answer echoed the person.
    with db.unit_of_work(tenant) as uow:
        row = service.get_delivery(uow, delivered.id)
        row.state, row.attempts = "delivered", 1
        uow.add(
            WebhookAttempt(
                tenant_id=tenant, id=uuid.uuid4(), delivery_id=row.id, number=1, manual=False,
                url="https://receiver.example.invalid/hook", status_code=200,
                response_excerpt=f'{{"ok": true, "who": "{NAME}"}}', error="", duration_ms=12,
            )
        )  # fmt: skip
    sent = {d.id: (d.body, d.body_sha256) for d in (alone, delivered, both, theirs)}
    for body, digest in sent.values():
        assert hashlib.sha256(body).hexdigest() == digest

    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        erased = purge.erase_person(uow, evidence, sat.candidate, reason="data subject request")
    purge.delete_pending(db, tenant, evidence)  # the job the erasure queued

    for delivery in (alone, delivered, both):
        now = _row(db, tenant, delivery.id)
        assert _holds_person(now.body, sat) == [], now.body
        assert now.body_sha256 == sent[delivery.id][1] and now.erased_at is not None
        before, after = json.loads(sent[delivery.id][0]), json.loads(now.body)
        assert {k: after[k] for k in ("id", "type", "created", "tenant")} == {
            k: before[k] for k in ("id", "type", "created", "tenant")
        }
    # Waiting, nothing left but the mark: cancelled, with the reason.
    cancelled = _row(db, tenant, alone.id)
    assert json.loads(cancelled.body)["data"] == {"erased": True}
    assert cancelled.state == "failed" and cancelled.next_attempt_at is None
    with db.unit_of_work(tenant) as uow:
        (why,) = service.attempts_of(uow, alone.id)
        assert why.error == erasure.CANCELLED and why.status_code is None
        # The send job already queued (ticket 1) finds it stale and sends nothing.
        assert sending.claim(uow, box, alone.id, 1) is None
        with pytest.raises(Conflict, match="erased"):
            service.redeliver(uow, alone.id)
        (answer,) = service.attempts_of(uow, delivered.id)
        assert answer.response_excerpt == "" and answer.status_code == 200
    assert _row(db, tenant, delivered.id).state == "delivered"
    # About two people: the other stays, and it is still sent.
    shared = _row(db, tenant, both.id)
    assert shared.state == "pending"
    assert json.loads(shared.body)["data"]["entries"] == [
        {"rank": 1, "candidate_id": str(other.candidate), "name": OTHER_NAME},
        {"erased": True},
    ]
    # Another candidate's delivery: the same bytes.
    untouched = _row(db, tenant, theirs.id)
    assert untouched.body == sent[theirs.id][0] and untouched.erased_at is None

    with db.unit_of_work(tenant) as uow:
        identity = next(
            r
            for r in (uow.get(Receipt, i) for i in erased.receipts)
            if r.data_class == "candidate_identity"
        )
        assert identity.counts["rows"]["webhook_deliveries"] == 3
        assert identity.counts["rows"]["webhook_attempts"] == 1
        assert verify.check(uow, evidence).ok
        assert uow.get(Candidate, sat.candidate).erased_at is not None
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        report = audit_service.verify_tenant(uow, ring, _sources())
    assert report.ok and report.records.purged


def test_verification_finds_a_body_that_still_names_an_erased_person(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = _named(db, settings, tenant, evidence)
    make_endpoint(db, tenant, kit_for(settings).box, names=[EVENT])
    kept = _emit(db, tenant, {"candidate_id": str(sat.candidate)}, [sat.candidate])
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        purge.erase_person(uow, evidence, sat.candidate, reason="request")
    purge.delete_pending(db, tenant, evidence)
    with db.unit_of_work(tenant) as uow:
        assert verify.check(uow, evidence).ok
        service.get_delivery(uow, kept.id).body = kept.body  # put back by hand
    with db.unit_of_work(tenant) as uow:
        check = verify.check(uow, evidence)
    assert not check.ok
    assert any(f"webhook delivery still names candidate {sat.candidate}" in p
               for p in check.problems)  # fmt: skip


def test_the_daily_purge_of_identities_reaches_the_bodies_too(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = _named(db, settings, tenant, evidence)
    make_endpoint(db, tenant, kit_for(settings).box, names=[EVENT])
    sent = _emit(db, tenant, {"candidate_id": str(sat.candidate), "email": EMAIL},
                 [sat.candidate])  # fmt: skip
    done = purge.run_tenant(
        db, tenant, evidence, now=sat.submitted_at + timedelta(days=731),
        classes=["candidate_identity"],
    )  # fmt: skip
    assert done.problems == [] and done.subjects == {"candidate_identity": 1}
    now = _row(db, tenant, sent.id)
    assert _holds_person(now.body, sat) == [] and now.body_sha256 == sent.body_sha256
    with db.unit_of_work(tenant) as uow:
        (receipt,) = uow.scalars(select(Receipt).where(Receipt.data_class == "candidate_identity"))
        assert receipt.trigger == "policy" and receipt.counts["rows"]["webhook_deliveries"] == 1
