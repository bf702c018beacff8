"""Carrying out an erasure request through the purge
(``invigil.retention.purge.erase_person``): the request keeps the purge's
receipts and what a legal hold kept, ends once, and verifies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.retention import holds, requests
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import attempt_factory
from tests.test_pages_matrix import web_client


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("erasure-keys"))


def _candidate(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str) -> Any:
    with db.unit_of_work(tenant_id) as uow:
        return uow.session.execute(
            text("SELECT candidate_id, exam_id FROM attempts WHERE id = :a"),
            {"a": uuid.UUID(attempt_id)},
        ).one()


def test_an_erasure_request_is_carried_out_by_the_purge(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, keys: Keys
) -> None:
    tenant = make_tenant(db, settings)
    candidate_id, _ = _candidate(db, tenant.id, attempt_factory(db, tenant))
    headers = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    made = client.post(
        "/api/v1/privacy/requests",
        json={"candidate_id": str(candidate_id), "kind": "erasure"},
        headers=headers,
    )
    rid = made.json()["id"]
    refused = client.post(
        f"/api/v1/privacy/requests/{rid}/erase",
        json={"reason": "Asked by e-mail", "confirm": False},
        headers=headers,
    )
    assert refused.status_code == 422 and refused.json()["field"] == "confirm"
    done = client.post(
        f"/api/v1/privacy/requests/{rid}/erase",
        json={"reason": "Asked by e-mail", "confirm": True},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed" and body["receipt_ids"] and body["kept"] == []
    again = client.post(
        f"/api/v1/privacy/requests/{rid}/erase",
        json={"reason": "again", "confirm": True},
        headers=headers,
    )
    assert again.status_code == 409
    with db.unit_of_work(tenant.id) as uow:
        entry = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.subject_id == rid, AuditEvent.action == requests.COMPLETED
            )
        )
        assert entry is not None
        assert entry.payload["receipt_ids"] == sorted(body["receipt_ids"])
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert report.ok, report.problems


def test_what_a_legal_hold_covers_is_kept_and_shown(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    candidate_id, exam_id = _candidate(db, tenant.id, attempt_factory(db, tenant))
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        holds.place(uow, "exam", exam_id, "regulator enquiry")
        row = requests.receive(uow, candidate_id=candidate_id, kind="erasure")
    browser, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    before = browser.get(f"/admin/privacy/requests/{row.id}")
    assert "A legal hold in force covers this person" in before.text
    done = browser.post(
        f"/admin/privacy/requests/{row.id}/erase",
        data={"csrf": csrf, "reason": "Asked by letter", "confirm": "yes"},
    )
    assert done.status_code == 303, done.text
    page = browser.get(f"/admin/privacy/requests/{row.id}")
    assert "Kept because of legal holds" in page.text
    with db.unit_of_work(tenant.id) as uow:
        finished = requests.get(uow, row.id)
        assert finished.status == "completed" and finished.kept
        # Their one attempt is on the held exam: it, and the identity and mail
        # it needs, are kept; nothing of theirs was purged, so no receipt.
        assert finished.receipt_ids == []
        for kept in finished.kept:
            assert kept in page.text
