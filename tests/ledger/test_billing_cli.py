"""`invigil ledger price-list` and `invigil ledger statement` on a fresh
database (a new tenant): show, set, refuse bad input on stderr with a
non-zero exit; the statement as text and JSON. `verify` and `credit` keep
their contract (tests/ledger/test_ledger.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from invigil.cli import cli
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.ledger import service
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.ledger.test_prices import PRICES


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_price_list_and_statement_commands(
    database: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    slug = make_tenant(database, settings).slug
    code, out, _ = run("ledger", "price-list", "--tenant", slug)
    assert code == 0 and "no price list in force" in out
    file = tmp_path / "prices.json"
    file.write_text(json.dumps(PRICES))
    code, out, _ = run("ledger", "price-list", "--tenant", slug, "--file", str(file),
                       "--reason", "standard plan")  # fmt: skip
    assert code == 0 and "price list version 1 set" in out, out
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    code, out, _ = run("--json", "ledger", "price-list", "--tenant", slug, "--file", str(file),
                       "--reason", "same, later", "--effective", later)  # fmt: skip
    assert code == 0 and json.loads(out)["set"]["version"] == 2
    code, out, _ = run("ledger", "price-list", "--tenant", slug, "--json")
    shown = json.loads(out)
    assert shown["in_force"]["version"] == 1 and len(shown["versions"]) == 2
    # Refusals: no reason, bad JSON, a bad price, a past date, an unknown tenant.
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**PRICES, "evidence_gb_month": -1}))
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    for args, said in (
        (["--file", str(file)], "--reason"),
        (["--file", str(bad), "--reason", "x"], "cannot read"),
        (["--file", str(wrong), "--reason", "x"], "evidence_gb_month"),
        (["--file", str(file), "--reason", "x", "--effective", past], "in the past"),
        (["--reason", "x"], "go with --file"),
    ):
        r = CliRunner().invoke(cli, ["ledger", "price-list", "--tenant", slug, *args])
        assert r.exit_code != 0, args
        assert said in str(r.exception) + r.stderr, (args, r.stderr, r.exception)

    code, out, _ = run("ledger", "credit", "--tenant", slug, "--amount", "100", "--reference", "R1")
    assert code == 0
    found = platform.tenant_by_slug(database, slug)
    assert found is not None
    with database.unit_of_work(found.id, Actor.operator("test")) as uow:
        service.charge(uow, 7, ("invitation", uuid.uuid4()), now=datetime.now(UTC))
    code, out, _ = run("ledger", "statement", "--tenant", slug)
    assert code == 0, out
    assert "opening balance" in out and "checked: opening + movements = closing" in out
    assert "top-up" in out and "invitation" in out
    code, out, _ = run("ledger", "statement", "--tenant", slug, "--json")
    s = json.loads(out)
    assert s["closing_balance"] == 93 and s["balanced"] is True and len(s["lines"]) == 2
    assert s["lines"][-1]["balance_after"] == 93
    today = datetime.now(UTC).date()
    code, out, _ = run("--json", "ledger", "statement", "--tenant", slug,
                       "--from", "2020-01-01", "--to", "2020-01-31")  # fmt: skip
    assert json.loads(out)["movements"] == [] and json.loads(out)["closing_balance"] == 0
    r = CliRunner().invoke(cli, ["ledger", "statement", "--tenant", slug, "--from", "01/02/2026"])
    assert r.exit_code != 0
    r = CliRunner().invoke(cli, ["ledger", "statement", "--tenant", slug, "--from",
                                 today.isoformat(), "--to", "2020-01-01"])  # fmt: skip
    assert r.exit_code != 0
