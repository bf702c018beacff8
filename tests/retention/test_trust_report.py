"""The trust report is read from the live settings and rows: a change to the
MFA policy, a new retention version or a hold shows in the next report; the
PDF is a real PDF saying the same facts; tenant-controlled strings are
escaped; the command fails plainly on a bad tenant; the page needs
retention:view."""

from __future__ import annotations

import copy
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from invigil import __version__
from invigil.cli import cli
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.evidence.stores import store_url
from invigil.retention import holds, policy, trust
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for, make_invitation
from tests.test_pages_matrix import web_client

HOSTILE = '<script>alert("x")</script>&<b>'


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("trust-keys"))


def _build(database: Database, tenant: uuid.UUID, settings: Settings, keys: Keys) -> dict[str, Any]:
    """As the command builds it: a verification kept, then the report."""
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        trust.verify_now(uow, keys.audit, _sources())
        return trust.build(uow, settings, keys)


def test_the_page_verifies_the_same_records_as_the_command() -> None:
    assert [s.kind for s in trust.audit_sources()] == [s.kind for s in _sources()]


def test_the_report_follows_live_changes(database: Database, settings: Settings,
                                         keys: Keys) -> None:  # fmt: skip
    tenant = make_tenant(database, settings).id
    admin = make_user(database, tenant, ["tenant_admin"], email=f"a{uuid.uuid4().hex[:6]}@x.test")
    make_user(database, tenant, ["grader"])
    before = _build(database, tenant, settings, keys)
    assert before["format"] == trust.FORMAT and before["invigil_version"] == __version__
    assert before["data_region"] == settings.regions[0]
    expected = store_url(settings.regions[0], settings.object_store, settings.object_stores)
    assert expected == "local" and before["evidence_store"]["kind"] == "local"
    assert before["evidence_store"]["path"] == str(settings.objects_dir / settings.regions[0])
    assert before["mfa"] == {"required_for_admins": False, "active_staff": 2, "staff_with_mfa": 0,
                             "active_admins": 1, "admins_without_mfa": 1}  # fmt: skip
    assert [a["email"] for a in before["administrators"]] == [admin.email]
    assert before["retention"]["version"] == 0 and before["retention"]["is_default"]
    words = {c["class"]: c["words"] for c in before["retention"]["classes"]}
    assert words["answers"] == "730 days after the attempt is submitted, then deleted."
    assert "practice 30 days" in words["evidence"] and "high stakes 365 days" in words["evidence"]
    assert words["results"] == "Kept for the organisation's lifetime."
    assert before["retention"]["audit_log"]["keep"] == "tenant_lifetime"
    assert before["legal_holds"] == []
    assert before["audit_log"]["ok"] and before["audit_log"]["entries"] >= 3
    assert before["audit_log"]["first_problem"] is None
    assert before["audit_log"]["verified_by"] == "command"
    assert before["audit_log"]["verified_entries"] == before["audit_log"]["entries"]
    assert before["keys"]["audit_checkpoint"]["current"] == keys.audit.current().kid
    assert before["keys"]["tenant_keys"] == [] and before["subprocessors"] == []

    made = make_invitation(database, tenant, kit_for(settings))
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        tenants.set_mfa_policy(uow, require_for_admins=True)
        doc = copy.deepcopy(policy.DEFAULT.as_json())
        doc["classes"]["answers"]["keep_days"] = 90
        policy.set_policy(uow, doc, reason="DPO review")
        candidate = uow.session.execute(
            text("SELECT candidate_id FROM invitations WHERE id = :i"), {"i": made.invitation.id}
        ).scalar_one()
        hold = holds.place(uow, "candidate", candidate, "claim 2026-7")
        uow.session.execute(text("UPDATE users SET totp_enabled_at = now() WHERE id = :u"),
                            {"u": admin.id})  # fmt: skip
    after = _build(database, tenant, settings, keys)
    assert after["mfa"]["required_for_admins"] and after["mfa"]["staff_with_mfa"] == 1
    assert after["mfa"]["admins_without_mfa"] == 0
    assert after["retention"]["version"] == 1 and not after["retention"]["is_default"]
    assert after["retention"]["in_force_since"]
    words = {c["class"]: c["words"] for c in after["retention"]["classes"]}
    assert words["answers"] == "90 days after the attempt is submitted, then deleted."
    assert [(h["id"], h["scope"], h["reason"]) for h in after["legal_holds"]] == [
        (str(hold.id), "candidate", "claim 2026-7")
    ]
    assert (
        after["audit_log"]["ok"] and after["audit_log"]["entries"] > before["audit_log"]["entries"]
    )
    said = trust.text(after)
    assert "Retention policy: version 1" in said and "claim 2026-7" in said
    assert "MFA required for administrators: yes" in said and "Last verified" in said
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        holds.lift(uow, hold.id, "settled")
    assert _build(database, tenant, settings, keys)["legal_holds"] == []


def test_sub_processors_are_the_configured_endpoints(
    database: Database, settings: Settings, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(database, settings).id
    region = settings.regions[0]
    live = settings.model_copy(update={
        "object_stores": {region: "s3://evidence-eu/acme"}, "smtp_host": "mail.example.net",
        "ai_base_url": "https://ai.example.net/v1", "ai_model": "m-1",
    })  # fmt: skip
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.example.net")
    report = _build(database, tenant, live, keys)
    assert report["evidence_store"] == {
        "region": region,
        "kind": "s3",
        "bucket": "evidence-eu",
        "prefix": "acme",
        "endpoint": "https://s3.example.net",
    }
    kinds = {s["kind"]: s["where"] for s in report["subprocessors"]}
    # AI is configured for the platform but off for this tenant: not a sub-processor of it
    assert kinds == {"object_storage": "https://s3.example.net", "smtp": "mail.example.net:587"}
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        uow.session.execute(text(
            "INSERT INTO ai_settings (tenant_id, id, enabled, rubric_suggestions, updated_by) "
            "VALUES (:t, gen_random_uuid(), true, true, 'test')"), {"t": tenant})  # fmt: skip
    report = _build(database, tenant, live, keys)
    found = {s["kind"]: s for s in report["subprocessors"]}
    assert found["ai"]["where"] == "https://ai.example.net/v1"
    assert found["ai"]["detail"] == "the platform's provider, model m-1"
    assert found["smtp"]["detail"] == "STARTTLS, certificate checked"
    german = trust.View(report, "de")
    assert german.detail(found["ai"]) == "Anbieter der Plattform, Modell m-1"
    assert german.detail(found["object_storage"]) == "Bucket evidence-eu"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    report = _build(database, tenant, live, keys)
    store = next(s for s in report["subprocessors"] if s["kind"] == "object_storage")
    assert german.where(store) == "Amazon S3 (Standard-Endpunkt von AWS)"


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_pdf_and_html_say_the_facts_and_escape_what_the_tenant_wrote(
    database: Database, settings: Settings, keys: Keys
) -> None:
    tenant = make_tenant(database, settings).id
    make_user(database, tenant, ["tenant_admin"], email="dpo@x.test")
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        uow.session.execute(text("UPDATE users SET display_name = :n"), {"n": HOSTILE})
        holds.place(uow, "tenant", None, HOSTILE)
        trust.verify_now(uow, keys.audit, _sources())
        report = trust.build(uow, settings, keys)
        page = trust.html(uow, report, "en")
        printed = trust.pdf(uow, report, "en")
        german = trust.pdf(uow, report, "de")
    assert HOSTILE not in page and "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&lt;b&gt;" in page
    assert "dpo@x.test" in page and settings.regions[0] in page
    words = " ".join(_pdf_text(printed).split())
    for fact in (report["tenant"]["slug"], settings.regions[0], "Policy version 0",
                 "dpo@x.test", "intact", __version__, "AES-256-GCM", "The whole organisation",
                 "730 days after the attempt is submitted"):  # fmt: skip
        assert fact in words, fact
    assert "Aufbewahrung" in " ".join(_pdf_text(german).split())


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_the_command(database: Database, settings: Settings, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    monkeypatch.setattr("invigil.cli.trust._settings", lambda: settings)
    monkeypatch.setattr("invigil.cli.base._settings", lambda: settings)
    slug = make_tenant(database, settings).slug
    code, out, _ = run("trust", "report", "--tenant", slug)
    assert code == 0, out
    assert f"Trust report: {slug.upper()} ({slug})" in out and "Data region:" in out
    code, out, _ = run("--json", "trust", "report", "--tenant", slug)
    assert code == 0 and json.loads(out)["tenant"]["slug"] == slug
    code, out, _ = run("trust", "report", "--tenant", slug, "--out", str(tmp_path / "r.pdf"))
    assert code == 0 and "written to" in out
    assert slug in _pdf_text((tmp_path / "r.pdf").read_bytes())
    code, _, _ = run("trust", "report", "--tenant", slug, "--out", str(tmp_path / "r.html"))
    assert code == 0 and "<!doctype html>" in (tmp_path / "r.html").read_text()
    code, _, err = run("trust", "report", "--tenant", "no-such-tenant")
    assert code != 0 and "no tenant with slug 'no-such-tenant'" in err
    code, _, err = run("trust", "report", "--tenant", slug, "--out", str(tmp_path / "r.docx"))
    assert code != 0 and ".pdf, .html" in err
    code, _, err = run("trust", "report", "--tenant", slug, "--out", str(tmp_path / "no/r.pdf"))
    assert code != 0 and "does not exist" in err


def test_the_page_and_its_downloads(app: FastAPI, db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings, f"trust-{uuid.uuid4().hex[:8]}")
    admin, _ = web_client(app, db, tenant.id, ["tenant_admin"])
    page = admin.get("/admin/trust")
    assert page.status_code == 200, page.text
    assert "Trust report" in page.text and 'href="/admin/trust/report.pdf"' in page.text
    assert 'href="/admin/trust"' in page.text  # in the staff nav
    pdf = admin.get("/admin/trust/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="trust-report-{tenant.slug}-' in pdf.headers["content-disposition"]
    assert tenant.slug in _pdf_text(pdf.content)
    html = admin.get("/admin/trust/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"]
    with db.unit_of_work(tenant.id) as uow:
        uow.session.execute(text("UPDATE users SET language = 'de'"))
    german = admin.get("/admin/trust")
    assert '<html lang="de"' in german.text and "Vertrauensbericht" in german.text
    assert "Wo die Daten liegen" in german.text and "Aufbewahrung" in german.text
    printed = " ".join(_pdf_text(admin.get("/admin/trust/report.pdf").content).split())
    assert "Vertrauensbericht" in printed and "Nach Aufsichtsvorgabe" in printed
    for role in ("grader", "auditor"):
        other, _ = web_client(app, db, tenant.id, [role])
        for path in ("/admin/trust", "/admin/trust/report.pdf", "/admin/trust/report.html"):
            assert other.get(path).status_code == 403, (role, path)


ROOT = Path(__file__).resolve().parents[2]
SECURITY_DOCS = ROOT / "docs" / "security"
NAMED = re.compile(r"`((?:src|tests|docs)/[A-Za-z0-9_./-]+)`")


def test_every_path_the_security_docs_name_exists() -> None:
    pages = sorted(SECURITY_DOCS.glob("*.md"))
    assert {p.name for p in pages} >= {
        "questionnaire.md", "data-processing.md", "reference-architecture.md", "security-tests.md",
    }  # fmt: skip
    missing = [
        f"{page.name}: {path}"
        for page in pages
        for path in NAMED.findall(page.read_text(encoding="utf-8"))
        if not (ROOT / path.rstrip("/")).exists()
    ]
    assert missing == []
    listed = NAMED.findall((SECURITY_DOCS / "security-tests.md").read_text(encoding="utf-8"))
    tests = [p for p in listed if p.startswith("tests/")]
    assert len(tests) >= 40
    empty = [p for p in tests if "\ndef test_" not in (ROOT / p).read_text(encoding="utf-8")]
    assert empty == []


def test_the_data_processing_page_states_the_default_retention() -> None:
    page = (SECURITY_DOCS / "data-processing.md").read_text(encoding="utf-8")
    rows = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].strip("`") in policy.CLASSES:
            rows[cells[0].strip("`")] = (cells[4], cells[5].strip("`"), cells[6])
    assert set(rows) == set(policy.CLASSES)
    for name, (days, start, then) in rows.items():
        rule = policy.DEFAULT.rule(name)
        assert days == ("lifetime" if rule.keep_days is None else str(rule.keep_days)), name
        assert (start, then) == (rule.start, rule.then), name
    presets = policy.DEFAULT.rule("evidence").by_preset or {}
    said = (
        "practice {practice} days, standard {standard}, strict {strict}, high stakes {high_stakes}"
    )
    assert said.format(**presets) in " ".join(page.split())
    assert f"for {policy.DEFAULT.contest_window_days} days" in page
