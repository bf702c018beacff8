"""The tenant boundary under concurrent HTTP load: many interleaved,
authenticated requests for different tenants through one server and a small
connection pool never return another tenant's rows."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI

from invigil.app import create_app
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.conftest import bearer, make_tenant, make_user
from tests.live import running

THREADS = 8
REQUESTS = 25


@pytest.fixture
def server(settings: Settings, database: Database) -> Iterator[tuple[str, FastAPI]]:
    # Fewer connections than concurrent requests: connections serve many tenants.
    small = Database.connect(database.urls, pool_size=3, max_overflow=0)
    app = create_app(settings, small, run_jobs=False)
    with running(app) as url:
        yield url, app
    small.dispose()


def interleave(url: str, tenants: dict[str, tuple[uuid.UUID, dict[str, str]]]) -> list[str]:
    leaks: list[str] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=30) as client:
            for n in range(REQUESTS):
                slug = rng.choice(list(tenants))
                tenant_id, headers = tenants[slug]
                found: list[str] = []
                if n % 4 == 0:  # a write, audited, in the same transaction
                    r = client.post(
                        "/api/v1/roles",
                        headers=headers,
                        json={"name": f"r_{uuid.uuid4().hex[:10]}", "permissions": ["exam:view"]},
                    )
                    assert r.status_code == 201, r.text
                users = client.get("/api/v1/users?limit=200", headers=headers)
                assert users.status_code == 200, users.text
                found += [
                    u["email"]
                    for u in users.json()["items"]
                    if not u["email"].endswith(f"@{slug}.test")
                ]
                events = client.get("/api/v1/audit/events?limit=50", headers=headers).json()
                found += [
                    e["id"]
                    for e in events["items"]
                    if json.loads(e["entry"])["tenant"] != str(tenant_id)
                ]
                if found:
                    with lock:
                        leaks.extend(f"{slug} saw {x}" for x in found)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    return leaks


def _tenants(
    app: FastAPI, database: Database, settings: Settings
) -> dict[str, tuple[uuid.UUID, dict[str, str]]]:
    result = {}
    for _ in range(3):
        tenant = make_tenant(database, settings)
        for i in range(3):
            make_user(database, tenant.id, ["grader"], email=f"s{i}@{tenant.slug}.test")
        admin = make_user(database, tenant.id, ["tenant_admin"], email=f"a@{tenant.slug}.test")
        result[tenant.slug] = (tenant.id, bearer(app, database, admin))
    return result


@pytest.mark.slow
def test_concurrent_requests_stay_inside_their_tenant(
    server: tuple[str, FastAPI], database: Database, settings: Settings
) -> None:
    url, app = server
    assert interleave(url, _tenants(app, database, settings)) == []


@pytest.mark.slow
def test_the_http_scenario_sees_leaks_when_rls_is_lifted(
    server: tuple[str, FastAPI], database: Database, settings: Settings
) -> None:
    url, app = server
    tenants = _tenants(app, database, settings)
    with database.owner_engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users NO FORCE ROW LEVEL SECURITY")
        conn.exec_driver_sql("ALTER TABLE users DISABLE ROW LEVEL SECURITY")
    try:
        assert interleave(url, tenants) != []
    finally:
        with database.owner_engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE users ENABLE ROW LEVEL SECURITY")
            conn.exec_driver_sql("ALTER TABLE users FORCE ROW LEVEL SECURITY")
