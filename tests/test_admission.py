"""Admission control keeps requests from deadlocking on the connection pool."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
from starlette.types import Receive, Scope, Send

from invigil.admission import Admission, leave
from invigil.app import create_app
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings
from tests.conftest import bearer, make_tenant, make_user
from tests.live import running


async def _slow(scope: Scope, receive: Receive, send: Send) -> None:
    await anyio.sleep(0.5)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_request_that_waits_too_long_for_a_slot_gets_a_503() -> None:
    app = Admission(_slow, limit=1, wait_seconds=0.1)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first, second, free = await _gather(
                client.get("/a"), client.get("/b"), client.get("/static/x")
            )
        assert second.headers["retry-after"] and "busy" in second.json()["detail"]
        return [first.status_code, second.status_code, free.status_code]

    assert anyio.run(main) == [200, 503, 200]


async def _leaves(scope: Scope, receive: Receive, send: Send) -> None:
    leave(scope)  # it waits without a connection of its own from here on
    leave(scope)  # twice: the slot is given back once
    await _slow(scope, receive, send)


def test_a_request_that_leaves_gives_its_slot_back() -> None:
    app = Admission(_leaves, limit=1, wait_seconds=0.1)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await _gather(*(client.get(f"/{n}") for n in range(3)))
        return [r.status_code for r in answers]

    assert anyio.run(main) == [200, 200, 200]
    assert app._slots is not None and app._slots.value == 1


async def _gather(*calls: object) -> list[httpx.Response]:
    results: list[httpx.Response] = [None] * len(calls)  # type: ignore[list-item]

    async def one(i: int, call: object) -> None:
        await anyio.sleep(0.01 * i)  # in order
        results[i] = await call  # type: ignore[misc]

    async with anyio.create_task_group() as tg:
        for i, call in enumerate(calls):
            tg.start_soon(one, i, call)
    return results


def test_many_more_requests_than_connections_all_complete(
    urls: DatabaseUrls, settings: Settings, database: Database
) -> None:
    """80 concurrent authenticated requests over a 2-connection pool and 40
    worker threads: without admission control they deadlock until the pool
    times out (30 s); with it they queue and all succeed."""
    tenant = make_tenant(database, settings)
    small = Database.connect(urls, pool_size=2, max_overflow=0)
    try:
        app = create_app(settings, small, run_jobs=False)
        headers = bearer(app, small, make_user(small, tenant.id, ["grader"]))
        with running(app) as url:
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=80) as pool:
                codes = list(
                    pool.map(
                        lambda _: (
                            httpx.get(f"{url}/api/v1/me", headers=headers, timeout=60).status_code
                        ),
                        range(80),
                    )
                )
            elapsed = time.monotonic() - started
    finally:
        small.dispose()
    assert codes == [200] * 80
    assert elapsed < 20, elapsed
