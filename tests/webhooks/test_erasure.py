"""Erasing a person from stored webhook bodies: the objects that name them
go, their words anywhere take the whole of ``data`` with them, the envelope
stays; ``emit`` records whom an event is about; a delivery still waiting is
sent with the rewritten bytes, signed over them."""

from __future__ import annotations

import json
import uuid

from fastapi import FastAPI
from sqlalchemy import select

from invigil.context import Services
from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.shortlists import announce
from invigil.tenants.models import Tenant
from invigil.webhooks import erasure, jobs, service, signing
from invigil.webhooks.models import WebhookDelivery, WebhookEventPerson
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.test_pages_matrix import web_client
from tests.webhooks.factories import EVENT, LOCAL, make_endpoint
from tests.webhooks.receiver import receiver

PERSON = uuid.UUID("3b1f7c2e-9d4a-4e8b-a6f0-5c2d1e7b9a13")
OTHER = uuid.UUID("8e6d5c4b-3a29-4f18-b7e6-d5c4b3a29180")


def _body(data: object) -> bytes:
    envelope = {"id": "e-1", "type": EVENT, "created": "2026-12-07T09:30:00.000000Z",
                "tenant": "t-1", "data": data}  # fmt: skip
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _data(body: bytes) -> object:
    return json.loads(body)["data"]


def test_the_objects_that_name_the_person_go_and_the_rest_stays() -> None:
    nested = _body({
        "run_id": "r-9",
        "entries": [{"rank": 1, "candidate_id": str(OTHER)},
                    {"rank": 2, "candidate_id": str(PERSON), "name": "Ines Øberg"}],
    })  # fmt: skip
    out = erasure.redacted(nested, PERSON, ["Ines Øberg", "ines@example.org", ""])
    assert _data(out) == {
        "run_id": "r-9",
        "entries": [{"rank": 1, "candidate_id": str(OTHER)}, {"erased": True}],
    }
    assert json.loads(out)["id"] == "e-1" and json.loads(out)["type"] == EVENT
    # A list of ids names them too.
    listed = erasure.redacted(_body({"candidate_ids": [str(OTHER), str(PERSON)]}), PERSON, [])
    assert _data(listed) == {"erased": True}
    # Their words outside any object that names them: nothing of data is kept.
    loose = _body({"note": "sent to INES@example.org", "candidate_id": str(OTHER)})
    assert _data(erasure.redacted(loose, PERSON, ["ines@example.org"])) == {"erased": True}
    assert erasure.nothing_left(erasure.redacted(loose, PERSON, ["ines@example.org"]))
    # A body that does not name them: the very same bytes.
    theirs = _body({"candidate_id": str(OTHER), "name": "Someone Else"})
    assert erasure.redacted(theirs, PERSON, ["Ines Øberg"]) is theirs
    assert not erasure.nothing_left(theirs)
    # Bytes Invigil did not write: nothing is kept.
    assert _data(erasure.redacted(b"not json", PERSON, [])) == {"erased": True}


def test_emit_records_whom_the_event_is_about(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings)
    services = Services.build(settings)
    make_endpoint(database, tenant.id, services.box)
    with database.unit_of_work(tenant.id) as uow:
        service.emit(uow, EVENT, {"candidate_id": str(PERSON)}, [PERSON, PERSON])
        service.emit(uow, EVENT, {"n": 1})
        people = uow.scalars(select(WebhookEventPerson))
        (delivery,) = uow.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_id == people[0].event_id)
        )
    assert [p.person_id for p in people] == [PERSON]
    assert len(delivery.body_sha256) == 64


def test_shortlist_events_name_their_candidates() -> None:
    entries = [{"candidate_id": str(OTHER)}, {"candidate_id": str(PERSON)}]
    assert announce.people({"run_id": "r", "entries": entries}) == sorted([OTHER, PERSON])
    assert announce.people({"candidate_id": str(PERSON), "stage": "interview"}) == [PERSON]
    assert announce.people({"run_id": "r", "entries": []}) == []


def test_a_waiting_delivery_is_sent_rewritten_and_signed_over_what_is_sent(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    local = Services.build(settings.model_copy(update=LOCAL))
    data = {"entries": [{"candidate_id": str(OTHER), "rank": 1},
                        {"candidate_id": str(PERSON), "rank": 2, "name": "Ines Øberg"}]}  # fmt: skip
    with receiver((200, {}, "thanks Ines Øberg".encode())) as hook:
        _, secret = make_endpoint(
            database, tenant.id, local.box, url=hook.url, settings=local.settings
        )
        with database.unit_of_work(tenant.id) as uow:
            service.emit(uow, EVENT, data, [OTHER, PERSON])
            (delivery,) = uow.scalars(select(WebhookDelivery))
            first = delivery.body
        with database.unit_of_work(tenant.id) as uow:
            done = erasure.erase_person(uow, PERSON, ["Ines Øberg"])
        assert (done.deliveries, done.cancelled) == (1, 0)
        jobs.run(database, local, str(tenant.id), str(delivery.id), 1, False)
        (got,) = hook.received
    assert b"Ines" not in got.body and str(PERSON).encode() not in got.body
    assert got.headers["Invigil-Delivery"] == str(delivery.id)
    timestamp = int(got.headers["Invigil-Signature"].split(",")[0][2:])
    assert got.headers["Invigil-Signature"] == signing.header(secret, timestamp, got.body)
    assert _data(got.body) == {"entries": [{"candidate_id": str(OTHER), "rank": 1},
                                           {"erased": True}]}  # fmt: skip
    with database.unit_of_work(tenant.id) as uow:
        row = service.get_delivery(uow, delivery.id)
        assert row.state == "delivered" and row.body == got.body and row.body != first
        # Erased after it was sent: the answer kept goes as well.
        assert erasure.erase_person(uow, PERSON, ["Ines Øberg"]).attempts == 1
        assert [a.response_excerpt for a in service.attempts_of(uow, delivery.id)] == [""]


def test_the_log_says_the_body_was_rewritten_and_keeps_the_hash_sent(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    box = Services.build(Settings()).box
    make_endpoint(db, tenant_a.id, box)
    with db.unit_of_work(tenant_a.id) as uow:
        service.emit(uow, EVENT, {"candidate_id": str(PERSON), "name": "Ines Øberg"}, [PERSON])
        (delivery,) = uow.scalars(select(WebhookDelivery))
        sent = delivery.body_sha256
    with db.unit_of_work(tenant_a.id) as uow:
        assert erasure.erase_person(uow, PERSON, ["Ines Øberg"]).cancelled == 1
    page = client.get(f"/admin/webhooks/deliveries/{delivery.id}")
    assert page.status_code == 200
    assert "was rewritten without them" in page.text and sent in page.text
    assert "Ines" not in page.text and str(PERSON) not in page.text
    assert f"/admin/webhooks/deliveries/{delivery.id}/redeliver" not in page.text  # nothing left
    assert erasure.CANCELLED in page.text
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    shown = client.get(f"/api/v1/webhooks/deliveries/{delivery.id}", headers=h).json()
    assert shown["body_sha256"] == sent and shown["erased_at"] and shown["state"] == "failed"
    assert json.loads(shown["body"])["data"] == {"erased": True}
    refused = client.post(f"/api/v1/webhooks/deliveries/{delivery.id}/redeliver", headers=h)
    assert refused.status_code == 409 and "erased" in refused.json()["detail"]
