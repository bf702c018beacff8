"""Candidates' requests of one kind gathered into groups: one transaction,
one commit for several browsers of a tenant (docs/adr/0011-gathered-events.md).

A request hands its item to :class:`Gathering` and waits. Per tenant, at
most ``writers`` groups are written at once in a process: whatever arrived
while they were being written goes next, together (at most ``most`` a
group). Nobody waits for a timer: a request that finds a writer free is
written at once, alone, and under load the groups grow by themselves. ``write(tenant, items)``
runs in the thread pool, in the candidates' lane, and returns one result per
item (None: the item is not its plain case, and the request takes the
general way).

Requests wait here without a database connection, so they leave admission
control (:func:`invigil.admission.leave`); the queue bounds itself instead:
a tenant's item that finds ``most_waiting`` others waiting, or waits longer
than ``wait_seconds`` for its group to start, is answered 503 with nothing
written (the page keeps its events and sends them again).

Nothing of one browser's request may spoil another's: when a group's
``write`` raises (a browser holding a stray cookie, a deadlock with another
process, anything), its transaction rolled back, and each item is written
again alone -- what that raises is its own request's answer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool

from invigil.errors import Unavailable
from invigil.logs import get_logger

log = get_logger(__name__)

I = TypeVar("I")  # noqa: E741  (an item)
R = TypeVar("R")

Write = Callable[[uuid.UUID, list[I]], list[R | None]]


@dataclass
class _Waiting(Generic[I, R]):
    item: I
    answer: asyncio.Future[R | None]
    since: float


BUSY = "the server is busy; try again in a moment"


@dataclass
class Gathering(Generic[I, R]):
    write: Write[I, R]
    lane: anyio.Semaphore
    most: int = 32  # items in a group
    writers: int = 2  # groups of a tenant written at once
    most_waiting: int = 2000
    wait_seconds: float = 10.0
    _waiting: dict[uuid.UUID, list[_Waiting[I, R]]] = field(default_factory=dict)
    _writers: dict[uuid.UUID, set[asyncio.Task[None]]] = field(default_factory=dict)

    async def __call__(self, tenant: uuid.UUID, item: I) -> R | None:
        """``item``'s result, once the group it went with is committed."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R | None] = loop.create_future()
        waiting = self._waiting.setdefault(tenant, [])
        if len(waiting) >= self.most_waiting:
            raise Unavailable(BUSY, retry_after=2)
        waiting.append(_Waiting(item, answer, loop.time()))
        # A writer of a loop that has closed (a test client's) never comes back.
        writers = {
            t for t in self._writers.get(tenant, ()) if not t.done() and t.get_loop() is loop
        }
        if len(writers) < self.writers:
            writers.add(loop.create_task(self._drain(tenant)))
        self._writers[tenant] = writers
        return await answer

    async def _drain(self, tenant: uuid.UUID) -> None:
        """Write this tenant's groups until none is waiting. A writer that
        finds none ends at once, with no await in between, so an item never
        waits behind a writer that is leaving."""
        try:
            while waiting := self._waiting.get(tenant):
                group = waiting[: self.most]
                del waiting[: self.most]
                late = asyncio.get_running_loop().time() - self.wait_seconds
                for w in (w for w in group if w.since < late):
                    _settle(w, Unavailable(BUSY, retry_after=2))
                group = [w for w in group if w.since >= late]
                if not group:
                    continue
                results = await self._written(tenant, group)
                for w, result in zip(group, results, strict=True):
                    _settle(w, result)
        finally:
            self._writers.get(tenant, set()).discard(asyncio.current_task())
            if not self._writers.get(tenant):  # cancelled, the loop closing: nobody waits forever
                for w in self._waiting.pop(tenant, []):
                    w.answer.cancel()

    async def _written(
        self, tenant: uuid.UUID, group: list[_Waiting[I, R]]
    ) -> list[R | BaseException | None]:
        """Each item's result, or what its write raised."""
        try:
            return list(await self._trip(tenant, [w.item for w in group]))
        except Exception as exc:
            if len(group) == 1:
                return [exc]
            log.warning("gathering.group_failed", size=len(group), error=type(exc).__name__)
        out: list[R | BaseException | None] = []
        for w in group:  # each alone: one browser's failure is its own
            try:
                out += await self._trip(tenant, [w.item])
            except Exception as alone:
                out.append(alone)
        return out

    async def _trip(self, tenant: uuid.UUID, items: list[I]) -> list[R | None]:
        async with self.lane:
            return await run_in_threadpool(self.write, tenant, items)


def _settle(w: _Waiting[Any, Any], result: Any) -> None:
    if w.answer.done():  # the request went away (its client hung up)
        return
    if isinstance(result, BaseException):
        w.answer.set_exception(result)
    else:
        w.answer.set_result(result)
