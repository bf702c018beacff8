"""The fan-out of live signals inside one server process.

Each process holds one connection that LISTENs on the signal channel
(:mod:`invigil.db.signals`); every stream this process serves (a proctor's
console, a candidate's player) subscribes here for one tenant, and for one
attempt or all of the tenant's. A signal marks the attempt changed in each
matching subscription and wakes it; the stream then reads what it shows
under its own tenant binding. The payload carries ids only, so nothing of
one tenant reaches another's stream: a subscription hears only its tenant.

When the listening connection drops, every subscription is told to read
everything again once it is back (``resync``): a signal sent meanwhile was
lost, but the state it pointed at was not. Streams that are not served
(no subscription) cost nothing but the one idle connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

import psycopg

from invigil.db import signals
from invigil.logs import get_logger

log = get_logger(__name__)

RETRY_SECONDS = (0.5, 1, 2, 5, 10)


@dataclass(eq=False)
class Subscription:
    tenant_id: uuid.UUID
    attempt_id: uuid.UUID | None = None  # None: every attempt of the tenant
    changed: set[uuid.UUID] = field(default_factory=set)
    resync: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self) -> tuple[set[uuid.UUID], bool]:
        """What changed since the last take, and whether to read everything."""
        changed, resync = self.changed, self.resync
        self.changed, self.resync = set(), False
        self.wake.clear()
        return changed, resync

    async def wait(self, timeout: float) -> bool:
        """Wait for a change (True) or ``timeout`` seconds (False)."""
        if self.changed or self.resync:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
        return bool(self.changed or self.resync)


class Broker:
    """One listening connection and the subscriptions of this process."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._subs: dict[uuid.UUID, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listening = asyncio.Event()
        self.heard = 0  # signals received (for /metrics and the benchmark)

    def subscribe(self, tenant_id: uuid.UUID, attempt_id: uuid.UUID | None = None) -> Subscription:
        self._start()
        sub = Subscription(tenant_id, attempt_id)
        self._subs.setdefault(tenant_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.tenant_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.tenant_id]

    @property
    def subscriptions(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._loop is loop:
            return
        self._loop = loop
        self.listening = asyncio.Event()
        self._task = loop.create_task(self._run(), name="invigil-live-listener")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def deliver(self, payload: str) -> None:
        """Mark the attempt a signal names changed in every matching subscription."""
        parsed = signals.parse(payload)
        if parsed is None:
            return
        tenant_id, attempt_id = parsed
        self.heard += 1
        for sub in self._subs.get(tenant_id, ()):
            if sub.attempt_id is None or sub.attempt_id == attempt_id:
                sub.changed.add(attempt_id)
                sub.wake.set()

    def _resync_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.resync = True
                sub.wake.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {signals.CHANNEL}")
                    if failures:
                        self._resync_all()  # signals sent while deaf were lost
                    failures = 0
                    self.listening.set()
                    async for note in conn.notifies():
                        self.deliver(note.payload)
                failures = 1  # the server closed it: listen again, then read everything
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: listen again
                self.listening.clear()
                failures += 1
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]
                log.warning("live.listener_lost", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
