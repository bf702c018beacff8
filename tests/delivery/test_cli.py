"""`invigil invite` as an operator runs it (README.md)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from invigil.delivery.links import LinkKey
from tests.test_cli import cli_env, run

__all__ = ["cli_env"]


@pytest.mark.slow
def test_invite_prints_the_link(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "db", "upgrade").returncode == 0
    seeded = run(cli_env, "--json", "demo")
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(run(cli_env, "--json", "demo").stdout)["created"] is False

    plain = run(
        cli_env, "invite", "--tenant", "acme", "--exam", "standard-demo",
        "--email", "cli@example.org", "--name", "Cli Candidate", "--valid-hours", "3",
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    link = plain.stdout.strip()
    assert link.startswith("http://127.0.0.1:8000/take/gl.") and "\n" not in link

    out = run(
        cli_env, "--json", "invite", "--tenant", "acme", "--exam", "standard-demo",
        "--email", "cli2@example.org", "--name", "Second",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"link", "invitation_id", "candidate_id"} <= set(data)
    uuid.UUID(data["invitation_id"]), uuid.UUID(data["candidate_id"])
    by_id = run(
        cli_env, "--json", "invite", "--tenant", "acme", "--exam", data["exam_id"],
        "--email", "cli2@example.org", "--name", "Second",
    )  # fmt: skip
    assert (
        by_id.returncode == 0 and json.loads(by_id.stdout)["candidate_id"] == data["candidate_id"]
    )

    # The database holds the keyed hash of the printed token, not the token.
    token = data["link"].rsplit("/", 1)[1]
    key = LinkKey(Path(cli_env["INVIGIL_HOME"]) / "keys" / "guest-link.key")
    with psycopg.connect(cli_env["DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT count(*) FROM guest_links WHERE token_hash = %s", (key.hash(token),)
        ).fetchone()
        assert row == (1,)
        demo = conn.execute(
            "SELECT count(*) FROM invitations i JOIN exams e ON e.tenant_id = i.tenant_id "
            "AND e.id = i.exam_id WHERE e.slug = 'standard-demo'"
        ).fetchone()
        assert demo is not None and demo[0] == 2 * 3 + 3  # demo (both tenants) + ours

    missing = run(
        cli_env, "invite", "--tenant", "acme", "--exam", "nope",
        "--email", "x@example.org", "--name", "X",
    )  # fmt: skip
    assert missing.returncode == 1 and "exam nope was not found" in missing.stderr
    assert missing.stdout == ""
