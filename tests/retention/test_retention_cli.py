"""`invigil retention report` and `invigil retention purge` on a committed
tenant, and `invigil audit verify` naming what was purged under which
receipt; bad input answered on stderr with a non-zero exit."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from invigil.cli import cli
from invigil.db.engine import Database
from invigil.evidence.service import Evidence
from invigil.retention import receipts
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.retention.factories import sit


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def test_report_purge_and_verify(
    database: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("INVIGIL_HOME", str(home))
    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    monkeypatch.setattr("invigil.cli.audit._database", lambda: database)
    monkeypatch.setattr(receipts, "_ring", {})
    evidence = Evidence.from_settings(Settings(home=home))
    tenant = make_tenant(database, settings)
    sat = sit(database, settings, tenant.id, evidence)
    soon = (sat.submitted_at + timedelta(days=80)).isoformat()
    over = (sat.submitted_at + timedelta(days=366)).isoformat()

    code, out, _ = run("retention", "report", "--tenant", tenant.slug, "--now", soon)
    assert code == 0, out
    assert "nothing yet" in out and "evidence: 0 overdue, 1 in the next 30 days" in out

    code, out, err = run("retention", "purge", "--tenant", tenant.slug, "--now", over)
    assert code == 0, (out, err)
    assert "3 receipts (evidence 1, proctoring_events 1, invitations_mail 1)" in out
    assert "1 objects deleted from the store" in out and "verified:" in out
    code, out, _ = run("retention", "purge", "--tenant", tenant.slug, "--now", over, "--json")
    assert code == 0 and json.loads(out)["receipts"] == []

    code, out, _ = run("--json", "retention", "report", "--tenant", tenant.slug, "--now", over)
    data = json.loads(out)
    assert code == 0 and len(data["receipts"]) == 3
    assert all(r["signature_ok"] and r["hash_ok"] for r in data["receipts"])
    assert {r["data_class"] for r in data["receipts"]} == {
        "evidence", "proctoring_events", "invitations_mail"
    }  # fmt: skip
    code, out, _ = run("retention", "report", "--tenant", tenant.slug, "--now", over)
    assert "evidence (policy, policy version 0): 1 subjects, 1 objects, 1 keys" in out
    assert "signature ok" in out

    code, out, err = run("audit", "verify", "--tenant", tenant.slug)
    assert code == 0, (out, err)
    assert "purged: 1 records under policy version 0, receipt" in out
    assert "purges: 2 subjects" not in out and "purges: 3 subjects, 1 objects and 1 keys" in out

    # Bad input: on stderr, non-zero.
    code, _, err = run("retention", "purge", "--tenant", tenant.slug, "--now", "yesterday")
    assert code == 2 and "--now 'yesterday' is not an ISO 8601" in err
    code, _, _ = run("retention", "report", "--tenant", tenant.slug, "--limit", "0")
    assert code == 2
