"""Row-level security as the app role lives it: an unbound transaction sees
and writes nothing; a bound one sees its tenant only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from invigil.db.engine import Database
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound
from invigil.identity import service as identity
from invigil.identity.models import User
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, current_tenant_setting


def add_user(uow: UnitOfWork, email: str | None = None) -> User:
    return identity.create_user(
        uow, email=email or f"{uuid.uuid4().hex[:8]}@x.test", roles=["grader"]
    )


def test_a_tenant_sees_only_its_rows(db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        mine = add_user(uow)
    with db.unit_of_work(tenant_b.id) as uow:
        theirs = add_user(uow)
        seen = uow.scalars(select(User))
        assert theirs in seen and all(u.tenant_id == tenant_b.id for u in seen)
        with pytest.raises(NotFound) as missing:
            uow.get(User, mine.id)
    with db.unit_of_work(tenant_b.id) as uow, pytest.raises(NotFound) as absent:
        uow.get(User, uuid.uuid4())
    assert str(missing.value).replace(str(mine.id), "X") == str(absent.value).replace(
        str(absent.value).split()[1], "X"
    )


def test_an_unbound_transaction_sees_and_writes_nothing(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        add_user(uow)
    with db.unit_of_work(None) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM users")).scalar() == 0
        assert uow.session.execute(text("SELECT count(*) FROM tenants")).scalar() == 0
    with pytest.raises(ProgrammingError, match="row-level security"), db.unit_of_work(None) as uow:
        uow.session.execute(
            text("INSERT INTO users (tenant_id, id, email) VALUES (:t, :i, 'x@y.test')"),
            {"t": tenant_a.id, "i": uuid.uuid4()},
        )


def test_writing_into_another_tenant_is_refused(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with (
        pytest.raises(ProgrammingError, match="row-level security"),
        db.unit_of_work(tenant_a.id) as uow,
    ):
        uow.session.execute(
            text("INSERT INTO users (tenant_id, id, email) VALUES (:t, :i, 'x@y.test')"),
            {"t": tenant_b.id, "i": uuid.uuid4()},
        )


def test_moving_a_row_to_another_tenant_is_refused(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        user = add_user(uow)
    with (
        pytest.raises(ProgrammingError, match="row-level security"),
        db.unit_of_work(tenant_a.id) as uow,
    ):
        uow.session.execute(
            text("UPDATE users SET tenant_id = :b WHERE id = :i"), {"b": tenant_b.id, "i": user.id}
        )


def test_the_tenant_setting_does_not_outlive_the_transaction(
    database: Database, tenant_a: Tenant
) -> None:
    small = Database.connect(database.urls, pool_size=1, max_overflow=0)
    try:
        with small.unit_of_work(tenant_a.id) as uow:
            assert current_tenant_setting(uow.session.connection()) == str(tenant_a.id)
        with small.engine.connect() as conn:  # the same pooled connection, a new transaction
            assert current_tenant_setting(conn) in (None, "")
            assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 0
    finally:
        small.dispose()


def test_a_malformed_tenant_setting_raises(db: BoundDatabase) -> None:
    with pytest.raises(DBAPIError), db.unit_of_work(None) as uow:
        uow.session.execute(text("SELECT set_config('app.tenant_id', 'not-a-uuid', true)"))
        uow.session.execute(text("SELECT count(*) FROM users"))


@pytest.mark.parametrize(
    "stmt",
    [
        "ALTER TABLE users DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON users",
        "SET ROLE invigil_owner",
        "CREATE TABLE sneaky (id int)",
        "UPDATE alembic_version SET version_num = 'x'",
    ],
)
def test_the_app_role_cannot_lift_the_boundary(
    db: BoundDatabase, tenant_a: Tenant, stmt: str
) -> None:
    with pytest.raises(ProgrammingError), db.unit_of_work(tenant_a.id) as uow:
        uow.session.execute(text(stmt))


def test_the_registry_shows_a_tenant_only_its_own_row(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with db.unit_of_work(tenant_a.id) as uow:
        assert [t.id for t in uow.scalars(select(Tenant))] == [tenant_a.id]
