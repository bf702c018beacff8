from __future__ import annotations

import pytest

from invigil.errors import Conflict, Invalid
from invigil.identity import service
from invigil.security.passwords import verify_password
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase


def test_create_user_hashes_with_argon2id(db: BoundDatabase, tenant_a: Tenant) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        user = service.create_user(
            uow, email="Ann@Example.test", roles=["grader"], password="a long enough passphrase"
        )
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "a long enough passphrase")
    assert not verify_password(user.password_hash, "a long enough passphrasE")


def test_email_is_unique_per_tenant_ignoring_case(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        service.create_user(uow, email="sam@example.test", roles=["grader"])
    with pytest.raises(Conflict, match="already exists"), db.unit_of_work(tenant_a.id) as uow:
        service.create_user(uow, email="SAM@example.test", roles=["auditor"])
    with db.unit_of_work(tenant_b.id) as uow:  # another tenant may use the same address
        service.create_user(uow, email="sam@example.test", roles=["grader"])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"email": "not-an-email", "roles": ["grader"]}, "not an email address"),
        ({"email": "a@b.test", "roles": ["wizard"]}, "unknown role 'wizard'"),
        ({"email": "a@b.test", "roles": ["grader"], "password": "short"}, "at least 12 characters"),
    ],
)
def test_bad_input_is_refused(
    db: BoundDatabase, tenant_a: Tenant, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(Invalid, match=message), db.unit_of_work(tenant_a.id) as uow:
        service.create_user(uow, **kwargs)
