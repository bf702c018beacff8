"""Keeping background work alive through a database outage.

procrastinate's worker stops for good when its database goes away (a side
task fails: "Stopped worker on all queues"), and with it deadlines, seals,
mail and snapshot re-checks. The supervisor runs it again, after a capped
exponential backoff, each time with a fresh connection pool, for as long as
the process lives; a run that lasted a while starts the delays over. It
knows at every moment whether jobs can run, and readiness (``/readyz``)
asks it. With the embedded database it first starts the server again when
that died (``revive``), so ``invigil serve`` heals itself after a ``kill -9``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from invigil.logs import get_logger

log = get_logger(__name__)

# run(started): runs the worker until it stops or fails; calls started() once it works.
Run = Callable[[Callable[[], None]], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    cap: float = 30.0
    healthy_after: float = 60.0  # a run at least this long starts the delays over


class Supervisor:
    def __init__(
        self,
        run: Run,
        *,
        revive: Callable[[], bool] | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run, self._revive = run, revive
        self._backoff = backoff or Backoff()
        self._sleep, self._clock = sleep, clock
        self.running = False
        self.restarts = 0
        self.problem = "the job worker is starting"

    def status(self) -> dict[str, Any]:
        """A readiness check: ok while the worker runs, else why not and when it tries again."""
        if self.running:
            return {"ok": True, "detail": "the job worker is running"}
        return {"ok": False, "detail": self.problem}

    def _started(self) -> None:
        self.running = True
        if self.restarts:
            log.warning("worker.recovered", restarts=self.restarts)

    async def run_forever(self) -> None:
        """Until cancelled: run the worker, and run it again whenever it ends."""
        delay = self._backoff.first
        while True:
            began = self._clock()
            reason = await self._attempt()
            if self._clock() - began >= self._backoff.healthy_after:
                delay = self._backoff.first
            # Only the exception's type: /readyz is public, messages name hosts and paths.
            self.problem = f"the job worker is not running ({reason}); next try in {delay:g} s"
            log.warning("worker.restarting", reason=reason, in_seconds=delay)
            await self._sleep(delay)
            delay = min(delay * 2, self._backoff.cap)
            self.restarts += 1

    async def _attempt(self) -> str:
        if self._revive is not None:
            try:
                if await asyncio.to_thread(self._revive):
                    log.warning("database.restarted")
            except Exception as exc:
                log.warning("database.restart_failed", error=str(exc)[:500])
                return f"the database did not start: {type(exc).__name__}"
        try:
            await self._run(self._started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("worker.died", error=repr(exc)[:500])
            return f"it failed: {type(exc).__name__}"
        finally:
            self.running = False
        return "it stopped"
