"""The evidence bundle of a real certificate: issued from a real final
result, suspended and reinstated, bundled, verified offline (by the command,
and by the verifier copied out of the tree under ``python -I``), and every
tampering named by member and check."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from invigil.audit import bundle_proofs, bundle_registry
from invigil.audit.bundle import Options
from invigil.certification import lifecycle
from invigil.cli import cli
from invigil.context import Services
from invigil.db.uow import Actor
from invigil.delivery.models import AttemptResult
from invigil.errors import NotFound
from invigil.settings import Settings
from invigil.verifier import Summary, verify
from invigil.verifier.bundle import Failed
from invigil.verifier.certificate import check_credential, meets
from tests.certification.factories import NOW, certificate, holder, program
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.results.bundles import canonical, edit_manifest, members, rezip
from tests.shortlists.factories import exam, sit
from tests.verifier.test_standalone import PACKAGE, alone

CHECKED = ("manifest", "members", "hashes", "keys", "checkpoint", "inclusion", "anchors",
           "subject", "state", "requirements")  # fmt: skip


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services.build(settings)


@dataclass(frozen=True)
class Issued:
    tenant_id: uuid.UUID
    certificate_id: uuid.UUID
    attempt_id: uuid.UUID
    data: bytes


def basis_of(db: BoundDatabase, tenant_id: uuid.UUID, exam_id: uuid.UUID,
             attempt_id: uuid.UUID, integrity: str = "clear") -> dict[str, Any]:  # fmt: skip
    """What issuance records of a final result: the revision and its hash."""
    with db.unit_of_work(tenant_id) as uow:
        r = uow.scalar(select(AttemptResult).where(AttemptResult.attempt_id == attempt_id))
        assert r is not None
        return {"attempt_id": str(attempt_id), "exam_id": str(exam_id), "revision": r.revision,
                "document_sha256": r.document_sha256, "percent": str(r.percent),
                "integrity": integrity}  # fmt: skip


def build(db: BoundDatabase, services: Services, tenant_id: uuid.UUID, cid: uuid.UUID) -> bytes:
    sink = io.BytesIO()
    with db.unit_of_work(tenant_id, Actor.operator()) as uow:
        options = Options(show_evidence=False, services=services)
        bundle_proofs.build(uow, services.keys.audit, "certificate", cid, sink, options)
    return sink.getvalue()


def issue(db: BoundDatabase, settings: Settings, services: Services, percent: str = "84.50",
          min_percent: int = 70) -> Issued:  # fmt: skip
    """A certificate over one passed exam, suspended and reinstated since."""
    tenant = make_tenant(db, settings)
    e = exam(db, tenant.id)
    attempt = sit(db, tenant.id, e, percent)
    _, version = program(db, tenant.id, exam_ids=[e], min_percent=min_percent,
                         validity_months=24, integrity="clear")  # fmt: skip
    who = holder(db, tenant.id)
    cid = certificate(db, tenant.id, version, who, basis=[basis_of(db, tenant.id, e, attempt)])
    with db.unit_of_work(tenant.id) as uow:
        lifecycle.change_state(uow, cid, "suspended", "Audit finding 12",
                               now=NOW + timedelta(days=3))  # fmt: skip
        lifecycle.change_state(uow, cid, "issued", "Finding closed", now=NOW + timedelta(days=9))
    return Issued(tenant.id, cid, attempt, build(db, services, tenant.id, cid))


@pytest.fixture
def made(db: BoundDatabase, settings: Settings, services: Services) -> Issued:
    return issue(db, settings, services)


def check(data: bytes) -> Summary:
    return verify(io.BytesIO(data))


def failed(summary: Summary) -> tuple[str, str]:
    assert not summary.ok and summary.first is not None
    return summary.first.member, summary.first.check


def replace(data: bytes, path: str, content: bytes | None) -> bytes:
    """Change (or drop) a member and its line of the manifest (a careful forger)."""
    import hashlib

    def fix(manifest: dict[str, Any]) -> None:
        if content is None:
            manifest["members"] = [m for m in manifest["members"] if m["path"] != path]
            return
        for m in manifest["members"]:
            if m["path"] == path:
                m["sha256"], m["size"] = hashlib.sha256(content).hexdigest(), len(content)

    return edit_manifest(rezip(data, {path: content}), fix)


def edit_json(data: bytes, path: str, change: Callable[[Any], None]) -> bytes:
    doc = json.loads(members(data)[path])
    change(doc)
    return replace(data, path, canonical(doc))


def drop_record(data: bytes, path: str) -> bytes:
    """Remove a record, its audit entry and its proof, rewriting every
    member that lists them: what a forger who hides a record must do."""
    manifest = json.loads(members(data)["manifest.json"])
    seq = next(m["record"]["seq"] for m in manifest["members"] if m["path"] == path)
    found = members(data)
    lines = [x for x in found["audit/entries.jsonl"].split(b"\n")[:-1]
             if json.loads(x)["seq"] != seq]  # fmt: skip
    proofs = json.loads(found["audit/proofs.json"])
    proofs["proofs"] = [p for p in proofs["proofs"] if p["seq"] != seq]
    data = replace(data, path, None)
    data = replace(data, "audit/entries.jsonl", b"".join(x + b"\n" for x in lines))
    return replace(data, "audit/proofs.json", canonical(proofs))


def test_a_real_certificate_bundled_verifies_and_holds_no_names(made: Issued) -> None:
    summary = check(made.data)
    assert summary.ok, summary.failures
    assert all(summary.checks[k] == "ok" for k in CHECKED), summary.checks
    assert summary.checks["credential"] == "ok" and summary.counts["credential"] == 1
    assert summary.kind == "certificate" and summary.subject == str(made.certificate_id)
    assert summary.counts["state changes"] == 3 and summary.counts["results"] == 1
    found = members(made.data)
    assert sorted(p for p in found if p.startswith("records/state_changes/")) == [
        f"records/state_changes/{n:04d}.json" for n in (1, 2, 3)]  # fmt: skip
    assert f"records/results/{made.attempt_id}-0001.json" in found
    state = json.loads(found["records/state.json"])
    assert (state["state"], state["state_seq"]) == ("issued", 3)
    text = b"".join(found.values())
    assert b"Ada Holder" not in text and b"@holders.test" not in text
    assert b"invigil bundle build --tenant T --attempt" in found["report.txt"]


def test_a_changed_certificate_date_is_named(made: Issued) -> None:
    def later(doc: dict[str, Any]) -> None:
        doc["expires_at"] = doc["expires_at"].replace("2028", "2030")

    tampered = edit_json(made.data, "records/certificate.json", later)
    assert failed(check(tampered)) == ("records/certificate.json", "anchors")


def test_a_removed_state_change_is_named(made: Issued) -> None:
    # The suspension hidden, record, entry and proof: the gap shows.
    hidden = drop_record(made.data, "records/state_changes/0002.json")
    assert failed(check(hidden)) == ("records/state_changes/0003.json", "subject")
    # The last change hidden: the current state is no longer the last change.
    last = drop_record(made.data, "records/state_changes/0003.json")
    summary = check(last)
    assert failed(summary) == ("records/state.json", "state")
    assert "the last state change is suspended (change 2)" in str(summary.first)
    # Only the member dropped: its entry is then cited by nothing.
    bare = replace(made.data, "records/state_changes/0002.json", None)
    assert failed(check(bare)) == ("audit/entries.jsonl", "inclusion")


def test_a_changed_result_percent_is_named(made: Issued) -> None:
    path = f"records/results/{made.attempt_id}-0001.json"

    def higher(doc: dict[str, Any]) -> None:
        doc["percent"] = "99.50"

    assert failed(check(edit_json(made.data, path, higher))) == (path, "anchors")


def test_a_swapped_proof_is_named(made: Issued) -> None:
    proofs = json.loads(members(made.data)["audit/proofs.json"])
    first, second = proofs["proofs"][0], proofs["proofs"][1]
    first["path"], second["path"] = second["path"], first["path"]
    summary = check(replace(made.data, "audit/proofs.json", canonical(proofs)))
    assert failed(summary) == ("audit/entries.jsonl", "inclusion")
    assert f"entry {first['seq']} is not included" in str(summary.first)


def test_a_removed_or_foreign_result_is_named(made: Issued) -> None:
    path = f"records/results/{made.attempt_id}-0001.json"
    gone = drop_record(made.data, path)
    assert failed(check(gone)) == ("records/results/", "subject")
    moved = f"records/results/{made.attempt_id}-0002.json"

    def rename(manifest: dict[str, Any]) -> None:
        for m in manifest["members"]:
            m["path"] = moved if m["path"] == path else m["path"]
        manifest["members"].sort(key=lambda m: m["path"])

    renamed = edit_manifest(rezip(made.data, {moved: members(made.data)[path], path: None}), rename)
    assert failed(check(renamed)) == (moved, "subject")


def test_a_changed_current_state_is_named(made: Issued) -> None:
    def revoked(doc: dict[str, Any]) -> None:
        doc["state"] = "revoked"

    tampered = edit_json(made.data, "records/state.json", revoked)
    assert failed(check(tampered)) == ("records/state.json", "state")


def test_a_certificate_its_results_do_not_support_fails_requirements(
    db: BoundDatabase, settings: Settings, services: Services
) -> None:
    # Rows can be written that the rules forbid: the bundle shows it.
    weak = issue(db, settings, services, percent="65.00", min_percent=70)
    summary = check(weak.data)
    assert failed(summary) == ("records/certificate.json", "requirements")
    assert "65.00 percent is below 70" in str(summary.first)


def test_the_offline_rule_mirrors_the_program_definition() -> None:
    from decimal import Decimal

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    good = {"percent": Decimal("80"), "passed": True, "needs_grading": False, "integrity": "clear"}
    rule = {"exam_ids": [a, b], "mode": "all", "min_percent": 75, "integrity": "clear"}
    assert meets(rule, [good | {"exam_id": a}, good | {"exam_id": b}]) == (True, "")
    assert meets(rule, [good | {"exam_id": a}]) == (False, f"exam {b} has no result")
    assert meets(rule | {"mode": "any"}, [good | {"exam_id": a}]) == (True, "")
    cleared = good | {"exam_id": a, "integrity": "cleared"}
    assert not meets(rule | {"mode": "any"}, [cleared])[0]
    assert meets(rule | {"mode": "any", "integrity": "clear_or_cleared"}, [cleared])[0]
    assert not meets(rule | {"mode": "any"}, [good | {"exam_id": a, "passed": False}])[0]
    assert not meets(rule | {"mode": "any"}, [good | {"exam_id": a, "needs_grading": True}])[0]
    assert not meets(rule | {"mode": "any"}, [good | {"exam_id": str(uuid.uuid4())}])[0]
    assert not meets(rule | {"mode": "any", "min_percent": 80.5}, [good | {"exam_id": a}])[0]


def test_the_signed_credential_is_checked_against_the_certificate(made: Issued) -> None:
    """The bundle's real VC-JWT (RS256, the tenant's issuer key): a forged
    token, a credential of other dates or of another certificate, a wrong
    status entry, or a missing issuer key are each named."""
    found = members(made.data)
    cert = json.loads(found["records/certificate.json"])
    token = found["records/credential.jwt"].decode()
    jwk = json.loads(found["records/issuer_key.json"])
    check_credential(token, jwk, cert)
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    with pytest.raises(Failed) as caught:
        check_credential(forged, jwk, cert)
    assert caught.value.member == "records/credential.jwt"
    for wrong, why in (
        (cert | {"expires_at": "2099-01-01T00:00:00.000000Z"}, "is valid until"),
        (cert | {"id": str(uuid.uuid4())}, "not certificate"),
        (cert | {"status_index": cert["status_index"] + 1}, "status list index"),
        (cert | {"status_index": cert["status_index"] + 131_072}, "is not list 1"),
    ):
        with pytest.raises(Failed, match=why):
            check_credential(token, jwk, wrong)
    assert failed(check(replace(made.data, "records/credential.jwt", forged.encode()))) == (
        "records/credential.jwt", "credential")  # fmt: skip
    stripped = replace(made.data, "records/issuer_key.json", None)
    assert failed(check(stripped))[0] in ("records/issuer_key.json", "records/credential.jwt")


def test_bundle_build_and_verify_commands(
    made: Issued, db: BoundDatabase, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from invigil.tenants.models import Tenant

    with db.unit_of_work(made.tenant_id) as uow:
        slug = uow.get(Tenant, made.tenant_id).slug
    monkeypatch.setattr("invigil.cli.bundle._database", lambda: db)
    monkeypatch.setattr("invigil.cli.bundle._settings", lambda: settings)
    out = tmp_path / "cert.zip"
    built = CliRunner().invoke(cli, ["bundle", "build", "--tenant", slug, "--out", str(out),
                                     "--certificate", str(made.certificate_id)])  # fmt: skip
    assert built.exit_code == 0, built.output + repr(built.exception)
    ok = CliRunner().invoke(cli, ["bundle", "verify", str(out)])
    assert ok.exit_code == 0, ok.output
    assert f"certificate {made.certificate_id}: verified" in ok.output
    assert "requirements ok" in ok.output
    bad = tmp_path / "bad.zip"
    bad.write_bytes(edit_json(out.read_bytes(), "records/state.json",
                              lambda d: d.update(state_seq=2)))  # fmt: skip
    no = CliRunner().invoke(cli, ["bundle", "verify", str(bad)])
    assert no.exit_code == 1
    assert "NOT verified: records/state.json: state: says issued (change 2)" in no.output
    missing = CliRunner().invoke(cli, ["bundle", "build", "--tenant", slug, "--out", str(out),
                                       "--certificate", str(uuid.uuid4())])  # fmt: skip
    assert missing.exit_code != 0


def test_the_verifier_copied_alone_checks_a_certificate_bundle(
    made: Issued, tmp_path: Path
) -> None:
    root = tmp_path / "alone"
    shutil.copytree(
        PACKAGE, root / "invigil" / "verifier", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "invigil" / "__init__.py").write_text("")
    good = tmp_path / "good.zip"
    good.write_bytes(made.data)
    ran = alone(root, str(good))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "requirements ok" in ran.stdout and "state        ok" in ran.stdout
    bad = tmp_path / "bad.zip"
    bad.write_bytes(drop_record(made.data, "records/state_changes/0002.json"))
    ran = alone(root, "--json", str(bad))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert '"member": "records/state_changes/0003.json", "check": "subject"' in ran.stdout


def test_who_may_ask_for_a_certificate_bundle(
    db: BoundDatabase, settings: Settings, made: Issued
) -> None:
    auditor = make_user(db, made.tenant_id, ["auditor"])
    viewer = make_user(db, made.tenant_id, ["results_viewer"])
    with db.unit_of_work(made.tenant_id, Actor("user", str(auditor.id))) as uow:
        label = bundle_registry.find_subject(uow, "certificate", made.certificate_id)
        assert label.startswith("certificate C-2026-")
    as_viewer = Actor("user", str(viewer.id))
    with db.unit_of_work(made.tenant_id, as_viewer) as uow, pytest.raises(NotFound):
        bundle_registry.find_subject(uow, "certificate", made.certificate_id)
    other = make_tenant(db, settings)
    with db.unit_of_work(other.id, Actor.operator()) as uow, pytest.raises(NotFound):
        bundle_registry.find_subject(uow, "certificate", made.certificate_id)


def test_the_api_queues_a_certificate_bundle_and_the_job_builds_one_that_verifies(
    app: FastAPI, client: TestClient, db: BoundDatabase, made: Issued, services: Services
) -> None:
    from invigil.audit import bundle_jobs

    manager = make_user(db, made.tenant_id, ["certification_manager"])
    viewer = make_user(db, made.tenant_id, ["results_viewer"])
    body = {"kind": "certificate", "subject_id": str(made.certificate_id)}
    refused = client.post("/api/v1/bundles", json=body, headers=bearer(app, db, viewer))
    assert refused.status_code == 404  # no certificate:view: as if it did not exist
    headers = bearer(app, db, manager)
    asked = client.post("/api/v1/bundles", json=body, headers=headers)
    assert asked.status_code == 202, asked.text
    bundle_id = uuid.UUID(asked.json()["id"])
    assert bundle_jobs.build(db, services, made.tenant_id, bundle_id) == "ready"
    link = client.get(f"/api/v1/bundles/{bundle_id}/download", headers=headers)
    assert link.status_code == 200, link.text
    got = client.get(link.json()["url"], headers=headers)
    assert got.status_code == 200, got.text
    summary = check(got.content)
    assert summary.ok and summary.subject == str(made.certificate_id), summary.failures


def test_a_renewal_from_the_old_expiry_and_a_certificate_that_never_expires_verify(
    db: BoundDatabase, settings: Settings, services: Services
) -> None:
    tenant = make_tenant(db, settings)
    e = exam(db, tenant.id)
    basis = [basis_of(db, tenant.id, e, sit(db, tenant.id, e, "90.00"))]
    _, version = program(db, tenant.id, exam_ids=[e], validity_months=12, renew_from="expiry")
    who = holder(db, tenant.id)
    first = certificate(db, tenant.id, version, who, basis=basis)
    renewal = certificate(db, tenant.id, version, who, basis=basis,
                          now=NOW + timedelta(days=300))  # fmt: skip
    data = build(db, services, tenant.id, renewal)
    doc = json.loads(members(data)["records/certificate.json"])
    assert doc["renews_id"] == str(first) and doc["expires_at"].startswith("2028-03-01")
    assert check(data).ok, check(data).failures
    _, forever = program(db, tenant.id, exam_ids=[e], validity_months=None)
    lasting = build(db, services, tenant.id, certificate(db, tenant.id, forever, basis=basis))
    assert json.loads(members(lasting)["records/certificate.json"])["expires_at"] is None
    assert check(lasting).ok, check(lasting).failures
