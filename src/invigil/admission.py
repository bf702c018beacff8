"""Admission control: no more requests at a time than database connections.

Every route opens its unit of work in a worker thread (sync routes run
there; the candidate's async routes send their work there, see
``invigil.delivery.candidate.Guest``), which blocks until the pool hands it
a connection. With more requests in flight than connections, every worker
thread can end up blocked in that wait while the requests holding the
connections wait for a thread to run their endpoint — a deadlock that lasts
until the pool's timeout (found by ``make bench`` at 1,000 candidates). So
requests queue here, in the event loop, where waiting costs no thread: at
most ``limit`` are inside the app at once, and one that waits longer than
``wait_seconds`` gets a 503 with Retry-After instead of a hang. Static files
and ``/healthz`` pass freely.

A request that will wait without a connection of its own hands its slot
back early (:func:`leave`): a candidate's batch of events waits for a group
written in one transaction (``invigil.delivery.gathering``, which bounds its
own queue, and whose trips take the candidates' lane).
"""

from __future__ import annotations

import json
import math

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from invigil import metrics
from invigil.errors import PROBLEM_MEDIA_TYPE, problem

# Static files, the liveness probe and the metrics scrape pass freely: a
# scrape must still answer when every slot is taken (it is then most needed).
FREE = ("/static/", "/vendor/", "/healthz", "/metrics")


class Admission:
    def __init__(self, app: ASGIApp, limit: int, wait_seconds: float = 10.0) -> None:
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._slots: anyio.Semaphore | None = None
        metrics.ADMISSION_LIMIT.set(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(FREE):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.limit)
        try:
            self._slots.acquire_nowait()  # the usual case: no timer to set up
        except anyio.WouldBlock:
            metrics.ADMISSION_WAITING.inc()
            try:
                with anyio.move_on_after(self.wait_seconds) as waited:
                    await self._slots.acquire()
            finally:
                metrics.ADMISSION_WAITING.dec()
            if waited.cancelled_caught:
                metrics.REFUSED.inc()
                await self._busy(scope, send)
                return
        metrics.ADMITTED.inc()
        metrics.ADMISSION_ACTIVE.inc()
        lease = scope.setdefault("state", {})["admission"] = _Lease(self._slots)
        try:
            await self.app(scope, receive, send)
        finally:
            lease.end()

    async def _busy(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            problem(
                503,
                "unavailable",
                "the server is busy; try again in a moment",
                scope["path"],
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"retry-after", str(math.ceil(self.wait_seconds / 5) or 1).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Lease:
    def __init__(self, slots: anyio.Semaphore) -> None:
        self._slots: anyio.Semaphore | None = slots

    def end(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.release()
            metrics.ADMISSION_ACTIVE.dec()


def leave(scope: Scope) -> None:
    """Give this request's slot back now (it holds no connection from here on)."""
    lease = scope.get("state", {}).get("admission")
    if lease is not None:
        lease.end()
