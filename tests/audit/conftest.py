"""Fixtures of the evidence bundle tests: a test builder standing in for
the attempt builder, a real attempt, a tenant admin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from invigil.audit import bundle_registry as registry
from invigil.identity.models import User
from invigil.tenants.models import Tenant
from tests.audit.bundle_factories import Shape, sample_builder
from tests.conftest import BoundDatabase, make_user
from tests.delivery.factories import attempt_factory


@pytest.fixture
def shape() -> Iterator[Shape]:
    """The test builder, registered for attempts for this test only."""
    saved = registry.registered()
    made = Shape()
    registry.register("attempt", sample_builder(made))
    try:
        yield made
    finally:
        registry.restore(saved)


@pytest.fixture
def attempt_id(db: BoundDatabase, tenant_a: Tenant) -> uuid.UUID:
    return uuid.UUID(attempt_factory(db, tenant_a))


@pytest.fixture
def admin(db: BoundDatabase, tenant_a: Tenant) -> User:
    return make_user(db, tenant_a.id, ["tenant_admin"])
