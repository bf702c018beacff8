"""The start-up banner of `invigil serve` (and `make run`): true for every
demo tenant, on the first start and on every later one."""

from __future__ import annotations

import uuid

import pytest

from invigil import demo
from invigil.cli.server import _banner
from invigil.identity import service as identity
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant


def _admin(db: BoundDatabase, settings: Settings, password: str) -> str:
    slug = f"demo-{uuid.uuid4().hex[:8]}"
    tenant = make_tenant(db, settings, slug)
    with db.unit_of_work(tenant.id) as uow:
        identity.create_user(
            uow, email=f"admin@{slug}.test", roles=["tenant_admin"], password=password
        )
    return slug


def test_each_tenant_gets_its_own_account_and_only_a_password_that_works(
    db: BoundDatabase, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _admin(db, settings, demo.DEFAULT_PASSWORD)
    second = _admin(db, settings, "someone-changed-this-one")
    hints = demo.sign_in_hints(db, demo.DEFAULT_PASSWORD, slugs=(first, second, "no-such"))
    assert [(h.tenant, h.email) for h in hints] == [
        (first, f"admin@{first}.test"),
        (second, f"admin@{second}.test"),
    ]
    assert hints[0].password == demo.DEFAULT_PASSWORD and hints[1].password is None

    _banner(settings, "127.0.0.1", 8000, False, hints)
    banner = capsys.readouterr().err
    lines = {line.split("'")[1]: line for line in banner.splitlines() if "tenant '" in line}
    assert f"admin@{first}.test / {demo.DEFAULT_PASSWORD}" in lines[first]
    assert f"admin@{second}.test" in lines[second]
    assert demo.DEFAULT_PASSWORD not in lines[second]
    for slug, line in lines.items():  # no tenant is paired with another tenant's account
        assert all(f"@{other}.test" not in line for other in lines if other != slug)
