"""Checkpoint keys and token keys live in separate documents: a relying
service that picks a token key by ``kid`` from the JWKS can never pick a
checkpoint key, so whoever holds the checkpoint key cannot mint tokens."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from invigil.audit import checkpoints
from invigil.cli.base import cli
from invigil.db.uow import Actor
from invigil.errors import Invalid
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user


def _checkpoint_signed_token(app: FastAPI, valid_token: str) -> str:
    """The claims of a real token, signed with the audit-checkpoint key."""
    audit_key = app.state.services.keys.audit.current()
    claims = jwt.decode(valid_token, options={"verify_signature": False})
    return jwt.encode(
        claims,
        audit_key.private,
        algorithm="EdDSA",
        headers={"kid": audit_key.kid, "typ": "at+jwt"},
    )


def test_the_token_jwks_holds_no_checkpoint_key(app: FastAPI, client: TestClient) -> None:
    audit_kids = set(app.state.services.keys.audit.all_public())
    published = client.get("/.well-known/jwks.json").json()["keys"]
    assert published and not audit_kids & {k["kid"] for k in published}
    assert {k["invigil_purpose"] for k in published} == {"access-token"}


def test_the_audit_keys_document_holds_every_checkpoint_key(
    app: FastAPI, client: TestClient
) -> None:
    ring = app.state.services.keys.audit
    old = ring.current().kid
    ring.rotate()
    ring.retire(old)  # retired keys still verify old checkpoints: still published
    r = client.get("/.well-known/invigil-audit-keys.json")
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    keys = r.json()["keys"]
    assert {k["kid"] for k in keys} == set(ring.all_public()) and old in {k["kid"] for k in keys}
    assert {k["invigil_purpose"] for k in keys} == {"audit-checkpoint"}
    assert all("d" not in k for k in keys)
    access_kids = {k.kid for k in app.state.services.keys.access.signing_keys()}
    assert not access_kids & {k["kid"] for k in keys}


def test_a_token_signed_with_the_checkpoint_key_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    assert client.get("/api/v1/audit/checkpoints", headers=h).status_code == 200
    forged = _checkpoint_signed_token(app, h["Authorization"].removeprefix("Bearer "))
    r = client.get("/api/v1/audit/checkpoints", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and "unknown key" in r.json()["detail"]
    # A relying service selecting by kid from the JWKS (as PyJWKClient does) finds no key.
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    with pytest.raises(KeyError):
        jwks[jwt.get_unverified_header(forged)["kid"]]


def test_verify_export_pins_the_audit_keys_document(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, tmp_path: Path
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    with db.unit_of_work(tenant_a.id, Actor("user", "alice")) as uow:
        from invigil import audit

        audit.record(uow, "score.recorded", ("exam", "ex-1"), {"i": 1})
    with db.unit_of_work(tenant_a.id) as uow:
        checkpoints.seal(uow, app.state.services.keys.audit)
    export = tmp_path / "export.json"
    export.write_text(client.get("/api/v1/audit/export", headers=h).text)
    audit_keys = tmp_path / "invigil-audit-keys.json"
    audit_keys.write_text(client.get("/.well-known/invigil-audit-keys.json").text)
    token_jwks = tmp_path / "jwks.json"
    token_jwks.write_text(client.get("/.well-known/jwks.json").text)

    runner = CliRunner()
    ok = runner.invoke(
        cli, ["--json", "audit", "verify-export", str(export), "--key", str(audit_keys)]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    embedded = runner.invoke(cli, ["--json", "audit", "verify-export", str(export)])
    assert embedded.exit_code == 0, embedded.output
    # The token JWKS vouches for no checkpoint: pinning it is refused, naming the right document.
    wrong = runner.invoke(cli, ["audit", "verify-export", str(export), "--key", str(token_jwks)])
    assert isinstance(wrong.exception, Invalid)  # `invigil` prints it and exits 1
    assert "invigil-audit-keys.json" in wrong.exception.detail


def test_the_cli_fetches_the_audit_keys_from_a_running_server(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, tmp_path: Path
) -> None:
    """`audit fetch-key URL` saves what /.well-known/invigil-audit-keys.json
    serves; `verify-export --key-url URL` pins it directly. A server's bare
    address is enough; the token JWKS's address is refused, naming the right one."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    h = bearer(app, db, make_user(db, tenant_a.id, ["auditor"]))
    with db.unit_of_work(tenant_a.id) as uow:
        checkpoints.seal(uow, app.state.services.keys.audit)
    export = tmp_path / "export.json"
    export.write_text(client.get("/api/v1/audit/export", headers=h).text)

    class Served(BaseHTTPRequestHandler):  # the app's answers, over real HTTP
        def do_GET(self) -> None:
            r = client.get(self.path)
            self.send_response(r.status_code)
            self.send_header("Content-Type", r.headers.get("content-type", "text/plain"))
            self.end_headers()
            self.wfile.write(r.content)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Served)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        runner = CliRunner()
        saved = tmp_path / "jwks.json"
        fetched = runner.invoke(cli, ["audit", "fetch-key", base, "--out", str(saved)])
        assert fetched.exit_code == 0, fetched.output
        assert json.loads(saved.read_text())["purpose"] == "audit-checkpoint"
        ring = app.state.services.keys.audit
        from invigil.security.keys import thumbprint

        assert thumbprint(ring.current().public) in fetched.stdout
        ok = runner.invoke(cli, ["audit", "verify-export", str(export), "--key", str(saved)])
        assert ok.exit_code == 0, ok.output
        by_url = runner.invoke(cli, ["audit", "verify-export", str(export), "--key-url", base])
        assert by_url.exit_code == 0, by_url.output
        wrong = runner.invoke(
            cli, ["audit", "fetch-key", f"{base}/.well-known/jwks.json", "--out", str(saved)]
        )
        assert isinstance(wrong.exception, Invalid)
        assert "invigil-audit-keys.json" in wrong.exception.detail
    finally:
        server.shutdown()
