"""The operator's commands for a tenant's credential keys: rotate, and
withdraw a stolen (retired) key — the signing key cannot be withdrawn."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import cli_env, run

__all__ = ["cli_env"]  # the fixture, shared with tests/test_cli.py


@pytest.mark.slow
def test_rotate_then_withdraw(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "db", "upgrade").returncode == 0
    made = run(cli_env, "tenant", "create", "badge-co", "--name", "B", "--region", "us-east")
    assert made.returncode == 0, made.stderr
    first = run(cli_env, "--json", "keys", "credentials-rotate", "--tenant", "badge-co")
    assert first.returncode == 0, first.stderr
    first_key = json.loads(first.stdout)
    assert first_key["kid"].endswith(f"/keys/{first_key['key_id']}")
    second = run(cli_env, "--json", "keys", "credentials-rotate", "--tenant", "badge-co")
    second_key = json.loads(second.stdout)["key_id"]
    assert second_key != first_key["key_id"]

    signing = run(cli_env, "keys", "credentials-withdraw", second_key, "--tenant", "badge-co")
    assert signing.returncode == 1 and "rotate first" in signing.stderr
    done = run(cli_env, "--json", "keys", "credentials-withdraw", first_key["key_id"],
               "--tenant", "badge-co")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["withdrawn"] == first_key["key_id"]
    bad = run(cli_env, "keys", "credentials-withdraw", "nope", "--tenant", "badge-co")
    assert bad.returncode == 1 and "not a UUID" in bad.stderr
