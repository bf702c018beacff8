from __future__ import annotations

import pytest

from invigil.app import create_app
from invigil.errors import Conflict, Invalid
from invigil.identity import service
from invigil.security import passwords
from invigil.security.passwords import verify_password
from invigil.settings import Settings
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


def test_production_hashes_with_rfc_9106_low_memory_and_rehashes_test_hashes(
    db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    """The suite runs with argon2's smallest parameters (tests/conftest.py);
    a deployment that sets nothing gets RFC 9106's low-memory profile, and a
    hash of other parameters is upgraded at the next sign-in."""
    assert Settings.model_fields["argon2_profile"].default == "rfc9106-low-memory"
    assert settings.argon2_profile == "test-only-minimal"
    with db.unit_of_work(tenant_a.id) as uow:
        quick = service.create_user(
            uow, email="quick@example.test", roles=["grader"], password="a long enough passphrase"
        ).password_hash
    assert quick is not None and quick.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    passwords.configure("rfc9106-low-memory")
    try:
        with db.unit_of_work(tenant_a.id) as uow:
            user = service.create_user(
                uow,
                email="prod@example.test",
                roles=["grader"],
                password="a long enough passphrase",
            )
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert verify_password(user.password_hash, "a long enough passphrase")
        assert not verify_password(user.password_hash, "a long enough passphrasE")
        assert not passwords.needs_rehash(user.password_hash)
        assert passwords.needs_rehash(quick) and verify_password(quick, "a long enough passphrase")
        passwords.configure("test-only-minimal")
        create_app(settings.model_copy(update={"argon2_profile": "rfc9106-low-memory"}), db)
        assert passwords.profile() == "rfc9106-low-memory"  # the app applies its settings
    finally:
        passwords.configure(settings.argon2_profile)
    assert passwords.profile() == "test-only-minimal"


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
