"""Data-subject requests: recorded with their due date, ended once (completed
or refused), anchored and verified; the access export's contents against
its published format; and another tenant's requests and people out of reach.
The erasure action is in test_requests_erasure.py."""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence import service as evidence_service
from invigil.retention import export, export_readme, holds, requests
from invigil.retention import jobs as retention_jobs
from invigil.retention.models import PrivacyRequest
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import attempt_factory
from tests.evidence.factories import jpeg, png
from tests.retention import queued
from tests.test_pages_matrix import web_client

FORMAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "formats" / "subject-export.md"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("privacy-keys"))


def person(db: BoundDatabase, tenant: Tenant) -> dict[str, Any]:
    """A candidate with a started attempt (consent, events), as a dict."""
    attempt_id = uuid.UUID(attempt_factory(db, tenant))
    with db.unit_of_work(tenant.id) as uow:
        row = uow.session.execute(
            text(
                "SELECT c.id, c.email, c.name, a.invitation_id FROM attempts a "
                "JOIN candidates c ON c.tenant_id = a.tenant_id AND c.id = a.candidate_id "
                "WHERE a.id = :a"
            ),
            {"a": attempt_id},
        ).one()
    return {"id": row[0], "email": row[1], "name": row[2], "invitation_id": row[3],
            "attempt_id": attempt_id}  # fmt: skip


def entries(db: BoundDatabase, tenant: Tenant, request_id: uuid.UUID) -> list[AuditEvent]:
    with db.unit_of_work(tenant.id) as uow:
        return list(
            uow.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_id == str(request_id))
                .order_by(AuditEvent.seq)
            )
        )


def test_a_request_is_due_thirty_days_after_it_was_received(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    who = person(db, tenant_a)
    today = datetime.now(UTC).date()
    with db.unit_of_work(tenant_a.id, Actor.operator("test")) as uow:
        for bad, field in (
            ({"kind": "deletion"}, "kind"),
            ({"kind": "access", "channel": "fax"}, "channel"),
            ({"kind": "access", "note": "x" * 1001}, "note"),
            ({"kind": "access", "received_at": today + timedelta(days=1)}, "received_at"),
            ({"kind": "access", "received_at": today - timedelta(days=400)}, "received_at"),
        ):
            with pytest.raises(Invalid) as exc:
                requests.receive(uow, candidate_id=who["id"], **bad)
            assert exc.value.extensions["field"] == field, bad
        with pytest.raises(NotFound):
            requests.receive(uow, candidate_id=uuid.uuid4(), kind="access")
        with pytest.raises(Invalid) as exc:
            requests.find_candidate(uow, "nobody@example.test")
        assert exc.value.extensions["field"] == "email"
        assert requests.find_candidate(uow, who["email"].upper()).id == who["id"]
        row = requests.receive(
            uow, candidate_id=who["id"], kind="objection",
            received_at=today - timedelta(days=31), note="By letter of 3 Nov",
        )  # fmt: skip
        assert row.due_at == today - timedelta(days=1)
        assert requests.is_overdue(row) and not requests.is_overdue(row, row.due_at)
        fresh = requests.receive(uow, candidate_id=who["id"], kind="rectification")
        assert (fresh.received_at, fresh.due_at) == (today, today + timedelta(days=30))
        listed = requests.listing(uow, status="open")
        assert [r.id for r in listed][:2] == [row.id, fresh.id]  # earliest due first
    (received,) = entries(db, tenant_a, row.id)
    assert received.action == requests.RECEIVED
    payload = json.dumps(received.payload)
    assert who["email"] not in payload and who["name"] not in payload
    assert "letter" not in payload  # the note stays out of the log


def test_requests_end_once_anchored_and_verified(
    db: BoundDatabase, tenant_a: Tenant, keys: Keys, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    who = person(db, tenant)
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        objection = requests.receive(uow, candidate_id=who["id"], kind="objection")
        access = requests.receive(uow, candidate_id=who["id"], kind="access")
        with pytest.raises(Invalid) as exc:
            requests.complete(uow, objection.id, "   ")
        assert exc.value.extensions["field"] == "outcome"
        with pytest.raises(Conflict):
            requests.complete(uow, access.id, "done")  # an access request ends with its export
        done = requests.complete(uow, objection.id, "Stopped sending reminders.")
        assert done.status == "completed" and done.sha256
        with pytest.raises(requests.NotOpen):
            requests.refuse(uow, objection.id, "too late")
        refused = requests.refuse(uow, access.id, "Identity could not be confirmed.")
        assert refused.status == "refused" and refused.outcome.startswith("Identity")
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert report.ok, (report.problems, report.records)
    assert [e.action for e in entries(db, tenant, objection.id)] == [
        requests.RECEIVED, requests.COMPLETED,
    ]  # fmt: skip
    assert entries(db, tenant, access.id)[-1].payload["anchor"]["sha256"] == refused.sha256
    # a changed finished request no longer verifies
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        uow.session.execute(
            text("UPDATE privacy_requests SET outcome = 'edited' WHERE id = :i"),
            {"i": objection.id},
        )
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert not report.ok


# -- the access export --------------------------------------------------------


def documented() -> dict[str, list[str]]:
    """Every key table of docs/formats/subject-export.md, by the heading above it."""
    tables: dict[str, list[str]] = {}
    heading = ""
    for line in FORMAT_DOC.read_text().splitlines():
        found = re.match(r"#{2,3} `?([^`]+)`?$", line.strip())
        if found:
            heading = found.group(1)
            continue
        cell = re.match(r"\| `([^`]+)` \|", line)
        if cell and heading:
            tables.setdefault(heading, []).append(cell.group(1))
    return tables


def check_against_format(archive: zipfile.ZipFile) -> tuple[dict[str, Any], dict[str, Any]]:
    """An export as the published format describes it: every file named,
    every key documented (and every documented key present), every hash right."""
    doc = documented()
    names = archive.namelist()
    patterns = [re.escape(p).replace(re.escape("<object id>.<ext>"), r"[0-9a-f-]{36}\.[a-z]+")
                for p in doc["Files"]]  # fmt: skip
    for name in names:
        assert any(re.fullmatch(p, name) for p in patterns), f"{name} is not in the format"
    for required in ("README.txt", "person.json", "manifest.json"):
        assert required in names
    data = json.loads(archive.read("person.json"))
    manifest = json.loads(archive.read("manifest.json"))
    assert list(data) == doc["person.json"]
    assert data["format"] == manifest["format"] == export.FORMAT
    for section in ("request", "person"):
        assert list(data[section]) == doc[section], section
    for section, _, _ in export.SECTIONS:
        for row in data[section]:
            assert list(row) == doc[section], section
    assert list(manifest) == doc["manifest.json"]
    for item in manifest["files"]:
        assert list(item) == doc["files[]"]
        body = archive.read(item["path"])
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (item["sha256"], item["size"])
    assert {i["path"] for i in manifest["files"]} == set(names) - {"manifest.json"}
    for item in manifest["evidence"]:
        assert list(item) == doc["evidence[]"]
    return data, manifest


def test_the_readme_is_in_the_persons_language() -> None:
    when = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    for locale, start, inside in (
        ("en", "Your data from ACME", "What is inside:"),
        ("de", "Ihre Daten bei ACME", "Was enthalten ist:"),
        ("fr", "Vos données chez ACME", "Contenu\u202f:"),
    ):
        text = export_readme.readme(locale, organisation="ACME", generated=when, request="r-1")
        assert text.startswith(start) and inside in text, locale
        assert "- person.json" in text and "r-1" in text
        assert max(len(line) for line in text.splitlines()) <= 76


def test_the_documented_format_names_every_section_the_code_writes() -> None:
    doc = documented()
    assert doc["person.json"] == list(export.TOP_KEYS)
    for section, keys, _ in export.SECTIONS:
        assert doc[section] == list(keys), section
    assert doc["person"] == list(export.PERSON_KEYS)
    assert doc["evidence[]"] == list(export.EVIDENCE_KEYS)
    assert doc["manifest.json"] == list(export.MANIFEST_KEYS)


def test_an_access_request_exports_everything_about_the_person_and_nobody_else(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings, keys: Keys
) -> None:
    tenant, other = make_tenant(db, settings), make_tenant(db, settings)
    who, stranger = person(db, tenant), person(db, other)
    evidence = app.state.services.evidence
    with db.unit_of_work(tenant.id) as uow:
        gone = evidence_service.store(
            uow, evidence, subject_type="attempt", subject_id=str(who["attempt_id"]),
            kind_name="snapshot", data=[jpeg(3_000)],
        ).id  # fmt: skip
        evidence_service.erase_subject(uow, "candidate", str(who["id"]), "test")
        picture = png(4_000)
        kept = evidence_service.store(
            uow, evidence, subject_type="attempt", subject_id=str(who["attempt_id"]),
            kind_name="snapshot", data=[picture],
        ).id  # fmt: skip
    with db.unit_of_work(other.id) as uow:
        evidence_service.store(
            uow, evidence, subject_type="attempt", subject_id=str(stranger["attempt_id"]),
            kind_name="snapshot", data=[jpeg(2_000)],
        )  # fmt: skip
    headers = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    made = client.post(
        "/api/v1/privacy/requests",
        json={"email": who["email"], "kind": "access", "channel": "portal"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    assert made.json()["due_at"] == (date.fromisoformat(made.json()["received_at"])
                                     + timedelta(days=30)).isoformat()  # fmt: skip
    # no export before it is built
    assert client.get(f"/api/v1/privacy/requests/{rid}/export", headers=headers).status_code == 404
    asked = client.post(f"/api/v1/privacy/requests/{rid}/export", headers=headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "open" and asked.json()["export_state"] == "queued"
    queued = client.post(f"/api/v1/privacy/requests/{rid}/export", headers=headers)
    assert queued.status_code == 409 and "queued already" in queued.json()["detail"]
    assert build_queued(app, db, tenant.id) == ["ready"]  # the job, as the worker runs it
    built = client.get(f"/api/v1/privacy/requests/{rid}", headers=headers)
    assert built.json()["status"] == "completed" and built.json()["export"]["sha256"]
    assert built.json()["export_state"] == "ready"
    again = client.post(f"/api/v1/privacy/requests/{rid}/export", headers=headers)
    assert again.status_code == 409
    got = client.get(f"/api/v1/privacy/requests/{rid}/export", headers=headers)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert hashlib.sha256(got.content).hexdigest() == built.json()["export"]["sha256"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        data, manifest = check_against_format(archive)
        assert archive.read(f"evidence/{kept}.png") == picture
    assert data["person"]["email"] == who["email"]
    assert [i["id"] for i in data["invitations"]] == [str(who["invitation_id"])]
    assert [a["id"] for a in data["attempts"]] == [str(who["attempt_id"])]
    assert data["consents"] and data["consents"][0]["text"]
    assert data["contests"] == []  # they contested nothing
    by_id = {e["id"]: e for e in manifest["evidence"]}
    assert set(by_id) == {str(gone), str(kept)}
    assert by_id[str(gone)]["status"] == "erased" and by_id[str(gone)]["erased_at"]
    assert by_id[str(kept)]["sha256"] == hashlib.sha256(picture).hexdigest()
    everything = json.dumps(data) + json.dumps(manifest)
    for foreign in (stranger["email"], str(stranger["id"]), str(stranger["attempt_id"])):
        assert foreign not in everything
    actions = [e.action for e in entries(db, tenant, uuid.UUID(rid))]
    assert actions == [requests.RECEIVED, requests.EXPORT_REQUESTED, requests.EXPORT_BUILT,
                       requests.COMPLETED, requests.EXPORT_DOWNLOADED]  # fmt: skip
    with db.unit_of_work(tenant.id) as uow:
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert report.ok, report.problems
    # the other tenant's admin: the request is missing, and so is the person
    intruder = bearer(app, db, make_user(db, other.id, ["tenant_admin"]))
    for method, path in (("GET", ""), ("GET", "/export"), ("POST", "/refuse")):
        r = client.request(method, f"/api/v1/privacy/requests/{rid}{path}", headers=intruder,
                           json={"reason": "x"} if method == "POST" else None)  # fmt: skip
        assert r.status_code == 404, (method, path, r.text)
    r = client.post("/api/v1/privacy/requests", headers=intruder,
                    json={"email": who["email"], "kind": "erasure"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "email"
    r = client.post("/api/v1/privacy/requests", headers=intruder,
                    json={"candidate_id": str(who["id"]), "kind": "erasure"})  # fmt: skip
    assert r.status_code == 404
    assert client.get("/api/v1/privacy/requests", headers=intruder).json()["items"] == []
    # the export is under the person's key: erasing the person shreds it too
    with db.unit_of_work(tenant.id) as uow:
        evidence_service.erase_subject(uow, "candidate", str(who["id"]), "erased")
    gone = client.get(f"/api/v1/privacy/requests/{rid}/export", headers=headers)
    assert gone.status_code == 410, gone.text


def test_the_api_refuses_bad_input_by_field(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    who = person(db, tenant_a)
    headers = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    future = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    for body, field in (
        ({"email": who["email"], "kind": "access", "received_at": future}, "received_at"),
        ({"kind": "access"}, "email"),
        ({"email": who["email"], "candidate_id": str(who["id"]), "kind": "access"}, "email"),
    ):
        r = client.post("/api/v1/privacy/requests", json=body, headers=headers)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    r = client.post("/api/v1/privacy/requests", headers=headers,
                    json={"email": who["email"], "kind": "access", "note": "x" * 1001})  # fmt: skip
    assert r.status_code == 422
    r = client.get("/api/v1/privacy/requests?status=lost", headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "status"
    made = client.post(
        "/api/v1/privacy/requests",
        headers=headers,
        json={"candidate_id": str(who["id"]), "kind": "rectification"},
    )
    rid = made.json()["id"]
    r = client.post(f"/api/v1/privacy/requests/{rid}/refuse", json={"reason": "  "},
                    headers=headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"/api/v1/privacy/requests/{rid}/export", headers=headers)
    assert r.status_code == 409  # not an access request
    r = client.post(f"/api/v1/privacy/requests/{rid}/erase", headers=headers,
                    json={"reason": "asked", "confirm": False})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "confirm"
    r = client.post(f"/api/v1/privacy/requests/{rid}/complete", headers=headers,
                    json={"outcome": "Corrected the spelling of the name."})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "completed"
    r = client.get("/api/v1/privacy/requests?status=completed", headers=headers)
    assert rid in [i["id"] for i in r.json()["items"]]
    grader = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    assert client.get("/api/v1/privacy/requests", headers=grader).status_code == 403


def build_queued(app: FastAPI, db: BoundDatabase, tenant: uuid.UUID) -> list[str]:
    """Run the export jobs queued for ``tenant`` as the worker would; their end states."""
    return [
        retention_jobs.run_export(db, app.state.services, args["tenant_id"], args["request_id"])
        for args in queued.take(db.connection, requests.BUILD_EXPORT, tenant)
    ]


def test_a_failed_build_is_recorded_and_can_be_asked_again(
    app: FastAPI, db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(db, settings)
    who = person(db, tenant)
    browser, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    made = browser.post("/admin/privacy/requests", data={
        "csrf": csrf, "email": who["email"], "kind": "access"})  # fmt: skip
    rid = made.headers["location"].rsplit("/", 1)[1]
    assert (
        browser.post(f"/admin/privacy/requests/{rid}/export", data={"csrf": csrf}).status_code
        == 303
    )

    def broken(*args: object, **kwargs: object) -> None:
        raise Conflict("the store refused the write")

    monkeypatch.setattr(export, "build", broken)
    assert build_queued(app, db, tenant.id) == ["failed"]
    page = browser.get(f"/admin/privacy/requests/{rid}")
    assert "Building the export failed: the build stopped: the store refused the write" in page.text
    assert "Build the export again" in page.text
    with db.unit_of_work(tenant.id) as uow:
        row = requests.get(uow, uuid.UUID(rid))
        assert (row.status, row.export_state, row.export_tries) == ("open", "failed", 1)
        assert row.export_object_id is None
    monkeypatch.undo()
    assert (
        browser.post(f"/admin/privacy/requests/{rid}/export", data={"csrf": csrf}).status_code
        == 303
    )
    assert build_queued(app, db, tenant.id) == ["ready"]
    with db.unit_of_work(tenant.id) as uow:
        row = requests.get(uow, uuid.UUID(rid))
        assert (row.status, row.export_state, row.export_tries) == ("completed", "ready", 2)
        assert row.export_error is None and row.export_sha256
    actions = [e.action for e in entries(db, tenant, uuid.UUID(rid))]
    assert actions == [requests.RECEIVED, requests.EXPORT_REQUESTED, requests.EXPORT_FAILED,
                       requests.EXPORT_REQUESTED, requests.EXPORT_BUILT, requests.COMPLETED]  # fmt: skip


def test_a_refused_request_builds_nothing_and_a_dead_build_can_be_asked_again(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    who = person(db, tenant)
    with db.unit_of_work(tenant.id) as uow:
        row = requests.receive(uow, candidate_id=who["id"], kind="access")
        requests.queue_export(uow, row.id)
        requests.refuse(uow, row.id, "not the person: identity not confirmed")
    assert build_queued(app, db, tenant.id) == [""]
    with db.unit_of_work(tenant.id) as uow:
        row = requests.receive(uow, candidate_id=who["id"], kind="access")
        requests.queue_export(uow, row.id)
        assert requests.claim_export(uow, row.id)  # a worker claimed it, then died
        with pytest.raises(Conflict, match="being built"):
            requests.queue_export(uow, row.id)
        later = datetime.now(UTC) + requests.STALE_BUILD + timedelta(minutes=1)
        assert requests.queue_export(uow, row.id, now=later).export_state == "queued"


# -- pages --------------------------------------------------------------------


def test_the_pages_record_a_request_and_build_and_download_its_export(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    who = person(db, tenant)
    browser, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    assert "/admin/privacy/requests" in browser.get("/home").text
    attempt_page = browser.get(f"/delivery/attempts/{who['attempt_id']}").text
    assert "/admin/privacy/requests/new?email=" in attempt_page
    prefilled = browser.get("/admin/privacy/requests/new", params={"email": who["email"]})
    assert f'value="{who["email"]}"' in prefilled.text
    form = browser.get("/admin/privacy/requests/new")
    assert form.status_code == 200 and 'type="date"' in form.text
    bad = browser.post("/admin/privacy/requests", data={
        "csrf": csrf, "email": "nobody@example.test", "kind": "access"})  # fmt: skip
    assert bad.status_code == 422 and 'href="#f-email"' in bad.text
    assert "nobody@example.test" in bad.text  # what was typed stays
    future = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    bad = browser.post(
        "/admin/privacy/requests",
        data={"csrf": csrf, "email": who["email"], "kind": "access", "received_at": future},
    )
    assert bad.status_code == 422 and 'href="#f-received_at"' in bad.text
    late = (datetime.now(UTC).date() - timedelta(days=40)).isoformat()
    done = browser.post("/admin/privacy/requests", data={
        "csrf": csrf, "email": who["email"], "kind": "access", "received_at": late,
        "channel": "letter", "note": "Letter of 28 Oct"})  # fmt: skip
    assert done.status_code == 303
    page = browser.get(done.headers["location"])
    assert page.status_code == 200 and "Overdue" in page.text and "Build the export" in page.text
    listing = browser.get("/admin/privacy/requests?status=open")
    assert who["name"] in listing.text and 'class="overdue"' in listing.text
    assert who["name"] not in browser.get("/admin/privacy/requests?status=refused").text
    assert browser.get("/admin/privacy/requests?status=nope").status_code == 422
    rid = done.headers["location"].rsplit("/", 1)[1]
    built = browser.post(f"/admin/privacy/requests/{rid}/export", data={"csrf": csrf})
    assert built.status_code == 303
    page = browser.get(f"/admin/privacy/requests/{rid}")
    assert "The export is being built. This page shows it once it is ready" in page.text
    assert "is waiting for a worker" in page.text and "Build the export</button>" not in page.text
    assert build_queued(app, db, tenant.id) == ["ready"]
    page = browser.get(f"/admin/privacy/requests/{rid}")
    assert "Download the export" in page.text and "Build the export" not in page.text
    got = browser.get(f"/admin/privacy/requests/{rid}/export")
    assert got.status_code == 200
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        check_against_format(archive)
    # refusing a finished request is refused on the page, not with a 500
    again = browser.post(f"/admin/privacy/requests/{rid}/refuse", data={
        "csrf": csrf, "reason": "x"})  # fmt: skip
    assert again.status_code == 409 and "finished already" in again.text
    # an objection: the outcome is required, then it completes
    made = browser.post("/admin/privacy/requests", data={
        "csrf": csrf, "email": who["email"], "kind": "objection"})  # fmt: skip
    oid = made.headers["location"].rsplit("/", 1)[1]
    empty = browser.post(f"/admin/privacy/requests/{oid}/complete", data={
        "csrf": csrf, "outcome": " "})  # fmt: skip
    assert empty.status_code == 422 and 'href="#complete-outcome"' in empty.text
    ok = browser.post(f"/admin/privacy/requests/{oid}/complete", data={
        "csrf": csrf, "outcome": "Profiling switched off."})  # fmt: skip
    assert ok.status_code == 303
    with db.unit_of_work(tenant.id) as uow:
        row = uow.scalar(select(PrivacyRequest).where(PrivacyRequest.id == uuid.UUID(oid)))
        assert row is not None and row.status == "completed"
    # an erasure needs its confirmation before anything happens
    made = browser.post("/admin/privacy/requests", data={
        "csrf": csrf, "email": who["email"], "kind": "erasure"})  # fmt: skip
    eid = made.headers["location"].rsplit("/", 1)[1]
    page = browser.get(f"/admin/privacy/requests/{eid}")
    assert "Erase now" in page.text and "A legal hold in force" not in page.text
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        exam_id = uow.session.execute(
            text("SELECT exam_id FROM invitations WHERE id = :i"), {"i": who["invitation_id"]}
        ).scalar_one()
        holds.place(uow, "exam", exam_id, "regulator enquiry")
    page = browser.get(f"/admin/privacy/requests/{eid}")
    assert "A legal hold in force covers this person" in page.text
    unconfirmed = browser.post(f"/admin/privacy/requests/{eid}/erase", data={
        "csrf": csrf, "reason": "Asked by e-mail"})  # fmt: skip
    assert unconfirmed.status_code == 422 and 'href="#erase-confirm"' in unconfirmed.text
    with db.unit_of_work(tenant.id) as uow:
        row = uow.scalar(select(PrivacyRequest).where(PrivacyRequest.id == uuid.UUID(eid)))
        assert row is not None and row.status == "open"
