"""The ``invigil`` command as an operator runs it: real processes, real database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from invigil.db.urls import DatabaseUrls, libpq

INVIGIL = [sys.executable, "-m", "invigil"]


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INVIGIL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def cli_env(
    urls: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """DATABASE_URL pointing at a fresh, empty database of the test server."""
    name = f"invigil_cli_{uuid.uuid4().hex[:8]}"
    admin = libpq(urls.admin.difference_update_query(["options"]))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = {
        **os.environ,
        "DATABASE_URL": libpq(urls.admin.set(database=name)),
        "INVIGIL_HOME": str(tmp_path_factory.mktemp("cli-home")),
        "INVIGIL_LOG_FORMAT": "console",
    }
    yield env
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.slow
def test_operator_workflow(cli_env: dict[str, str]) -> None:
    up = run(cli_env, "--json", "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["revision"]

    created = run(
        cli_env, "--json", "tenant", "create", "initech", "--name", "Initech", "--region", "us-east"
    )
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout)
    assert uuid.UUID(tenant["id"]) and tenant["region"] == "us-east"

    again = run(cli_env, "tenant", "create", "initech", "--name", "Initech", "--region", "us-east")
    assert again.returncode == 1 and "already exists" in again.stderr and again.stdout == ""
    bad_region = run(cli_env, "tenant", "create", "umbrella", "--name", "U", "--region", "moon")
    assert bad_region.returncode == 1 and "unknown region 'moon'" in bad_region.stderr

    user = run(
        cli_env,
        "--json",
        "user",
        "create",
        "--tenant",
        "initech",
        "--email",
        "pat@initech.test",
        "--role",
        "grader",
        "--password-stdin",
        stdin="a sufficiently long secret\n",
    )
    assert user.returncode == 0, user.stderr
    assert json.loads(user.stdout)["email"] == "pat@initech.test"
    weak = run(
        cli_env,
        "user",
        "create",
        "--tenant",
        "initech",
        "--email",
        "x@initech.test",
        "--role",
        "grader",
        "--password-stdin",
        stdin="short\n",
    )
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr
    nowhere = run(
        cli_env, "user", "create", "--tenant", "nope-co", "--email", "x@y.test", "--role", "grader"
    )
    assert nowhere.returncode == 1 and "no tenant with slug 'nope-co'" in nowhere.stderr

    first = run(cli_env, "--json", "demo")
    second = run(cli_env, "--json", "demo")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["created"] is True
    assert json.loads(second.stdout)["created"] is False
    accounts = json.loads(first.stdout)["tenants"]
    assert "admin@acme.test" in accounts["acme"] and "exam_author@globex.test" in accounts["globex"]
    assert json.loads(first.stdout)["exams"]["acme"] == [
        "essay-demo",
        "high-stakes-demo",
        "practice-demo",
        "standard-demo",
        "strict-demo",
    ]

    listed = json.loads(run(cli_env, "--json", "tenant", "list").stdout)["items"]
    assert {"initech", "acme", "globex"} <= {t["slug"] for t in listed}

    check = run(cli_env, "db", "check")
    assert check.returncode == 0 and "intact" in check.stdout
    plan = run(cli_env, "--json", "db", "distribution")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    placed = {t["table"]: t["placement"] for t in json.loads(plan.stdout)["tables"]}
    assert placed["users"] == "distributed" and placed["tenants"] == "reference"
    assert "SELECT create_reference_table('tenants');" in json.loads(plan.stdout)["statements"]
    app_url = run(cli_env, "db", "url").stdout.strip()
    owner_url = run(cli_env, "db", "url", "--owner").stdout.strip()
    assert app_url.startswith("postgresql://invigil_app")
    with psycopg.connect(app_url) as conn:  # the printed DSN works, and is bound by RLS
        assert conn.execute("SELECT current_user").fetchone() == ("invigil_app",)
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
    with psycopg.connect(owner_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("invigil_owner",)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_on_a_fresh_home_then_again(tmp_path: Path) -> None:
    """`make run` in miniature: embedded PostgreSQL, migrations, demo data,
    the server; Ctrl-C stops server and database; a second start reuses the data."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(INVIGIL_HOME=str(tmp_path / "home"), INVIGIL_LOG_FORMAT="console")
    for attempt in ("fresh", "again"):
        port = _free_port()
        proc = subprocess.Popen(
            [*INVIGIL, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.3)
            assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        if attempt == "fresh":
            assert "admin@acme.test" in stderr  # where to sign in, with which account
        else:
            assert "Demo tenants seeded" not in stderr  # the same data, not a new seed
        # Every demo tenant with its own account, on the first start and the next.
        assert "tenant 'acme': admin@acme.test / " in stderr
        assert "tenant 'globex': admin@globex.test / " in stderr
        assert not (tmp_path / "home" / "pgdata" / "postmaster.pid").exists()
    listed = run(env, "--json", "tenant", "list")
    assert {"acme", "globex"} <= {t["slug"] for t in json.loads(listed.stdout)["items"]}


@pytest.mark.slow
def test_audit_commands_detect_tampering(
    cli_env: dict[str, str], urls: DatabaseUrls, tmp_path: Path
) -> None:
    """An operator's view: verify, seal, export, verify offline; then an owner
    who disables the trigger and edits a row is named by `audit verify`."""
    assert run(cli_env, "db", "upgrade").returncode == 0
    run(cli_env, "tenant", "create", "tamper-co", "--name", "T", "--region", "us-east")
    for i in range(3):
        run(
            cli_env,
            "user",
            "create",
            "--tenant",
            "tamper-co",
            "--email",
            f"u{i}@t.test",
            "--role",
            "grader",
        )
    sealed = run(cli_env, "--json", "audit", "checkpoint", "--tenant", "tamper-co")
    assert sealed.returncode == 0 and json.loads(sealed.stdout)["sealed"] is True
    ok = run(cli_env, "audit", "verify", "--tenant", "tamper-co")
    assert ok.returncode == 0 and "verify" in ok.stdout
    out = tmp_path / "audit.json"
    assert (
        run(cli_env, "audit", "export", "--tenant", "tamper-co", "--out", str(out)).returncode == 0
    )
    offline_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}  # no database at all
    offline = run(offline_env, "--json", "audit", "verify-export", str(out))
    assert offline.returncode == 0 and json.loads(offline.stdout)["ok"] is True

    database = cli_env["DATABASE_URL"]
    with psycopg.connect(database, autocommit=True) as conn:  # a rogue superuser
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute(
            'UPDATE audit_events SET payload = \'{"roles": ["tenant_admin"]}\' '
            "WHERE seq = 2 AND tenant_id = (SELECT id FROM tenants "
            "WHERE slug = 'tamper-co')"
        )
        conn.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
    bad = run(cli_env, "--json", "audit", "verify", "--tenant", "tamper-co")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["first_bad_entry"] == 2 and "column payload" in " ".join(report["problems"])
    edited = json.loads(out.read_text())
    entry = json.loads(edited["entries"][1]["entry"])  # the first user.created
    entry["payload"]["roles"] = ["tenant_admin"]  # (its e-mail is not in the log to edit)
    edited["entries"][1]["entry"] = json.dumps(entry, separators=(",", ":"), sort_keys=True)
    out.write_text(json.dumps(edited))
    tampered = run(offline_env, "audit", "verify-export", str(out))
    assert tampered.returncode == 1 and "first bad entry: 1" in tampered.stdout


def test_serve_settles_the_heap_of_its_server(
    urls: DatabaseUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`invigil serve` (one worker, in its own process) builds the app that
    freezes its start-up heap (ADR 0012); uvicorn itself is not started."""
    import uvicorn
    from typer.testing import CliRunner

    import invigil.app
    from invigil import logs
    from invigil.cli.base import cli
    from invigil.settings import get_settings

    built: list[dict[str, object]] = []
    real = invigil.app.create_app

    def create_app(*args: object, **kwargs: object) -> object:
        built.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(invigil.app, "create_app", create_app)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(logs, "configure", lambda *args, **kwargs: None)
    monkeypatch.setenv("DATABASE_URL", libpq(urls.admin.set(database=urls.owner.database)))
    monkeypatch.setenv("INVIGIL_HOME", str(tmp_path))
    get_settings.cache_clear()  # read the environment above, and forget it after
    try:
        result = CliRunner().invoke(cli, ["serve", "--no-demo", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert [b.get("settle_heap") for b in built] == [True]
