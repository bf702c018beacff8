"""Many interleaved requests for different tenants over a small pool must
never see another tenant's rows: the tenant travels with the transaction,
never with the connection."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import make_tenant

THREADS = 12
REQUESTS_PER_THREAD = 40


@pytest.fixture
def small_pool(database: Database) -> Iterator[Database]:
    # Fewer connections than threads: every connection serves many tenants in turn.
    db = Database.connect(database.urls, pool_size=3, max_overflow=0)
    yield db
    db.dispose()


@pytest.fixture
def four_tenants(database: Database, settings: Settings) -> list[Tenant]:
    return [make_tenant(database, settings) for _ in range(4)]


def interleave(db: Database, tenants: list[Tenant]) -> list[str]:
    """Run the scenario; return every foreign row any request saw."""
    leaks: list[str] = []
    lock = threading.Lock()
    mine = {t.id for t in tenants}

    def request(seed: int) -> None:
        rng = random.Random(seed)
        for n in range(REQUESTS_PER_THREAD):
            tenant = rng.choice(tenants)
            with db.unit_of_work(tenant.id) as uow:
                s = uow.session
                if n % 3 == 0:  # a write, then reads that rely on RLS alone (no WHERE tenant)
                    s.execute(
                        text("INSERT INTO users (tenant_id, id, email) VALUES (:t, :i, :e)"),
                        {"t": tenant.id, "i": uuid.uuid4(), "e": f"{uuid.uuid4().hex[:10]}@c.test"},
                    )
                seen = s.execute(text("SELECT DISTINCT tenant_id FROM users")).scalars().all()
                registry = s.execute(text("SELECT id FROM tenants")).scalars().all()
                foreign = [x for x in [*seen, *registry] if x != tenant.id and x in mine]
                foreign += [x for x in seen if x not in mine]
                if foreign:
                    with lock:
                        leaks.extend(f"{tenant.slug} saw {x}" for x in foreign)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(request, range(THREADS)))
    return leaks


@pytest.mark.slow
def test_interleaved_requests_never_see_another_tenant(
    small_pool: Database, four_tenants: list[Tenant]
) -> None:
    assert interleave(small_pool, four_tenants) == []
    with small_pool.unit_of_work(four_tenants[0].id) as uow:  # the writes did happen
        assert uow.session.execute(text("SELECT count(*) FROM users")).scalar() > 0


@pytest.mark.slow
def test_the_scenario_detects_a_table_without_rls(
    small_pool: Database, database: Database, four_tenants: list[Tenant]
) -> None:
    """Proof that the test above bites: lift RLS from one table and it leaks."""
    with database.owner_engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users NO FORCE ROW LEVEL SECURITY")
        conn.exec_driver_sql("ALTER TABLE users DISABLE ROW LEVEL SECURITY")
    try:
        assert interleave(small_pool, four_tenants) != []
    finally:
        with database.owner_engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE users ENABLE ROW LEVEL SECURITY")
            conn.exec_driver_sql("ALTER TABLE users FORCE ROW LEVEL SECURITY")
