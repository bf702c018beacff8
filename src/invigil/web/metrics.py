"""``/metrics``: what Prometheus scrapes (docs/operations.md, "Metrics").

Never public. The route takes one bearer token, the scraper's, whose secret
lives in a file on the server (``INVIGIL_METRICS_TOKEN_FILE``), read on each
scrape (replacing the file rotates it) and compared by its sha256 in
constant time. No file configured: the route answers 404, like an address
nothing is served at. A tenant user's token or the operator's never passes.
Failed attempts are limited per client address, as the operator's are.

What it shows: the series each process keeps (``invigil.metrics``) and the
gauges read from the database when scraped (:class:`DatabaseGauges`): the
job queues (procrastinate's tables) and the mail outbox (the reviewed
cross-tenant function ``platform_mail_outbox_backlog``). A scrape must never
load the database: those are read at most once per
``metrics_cache_seconds`` per process (one scrape reads, others meanwhile
show the last values), each read limited to ``metrics_query_seconds``, and
skipped when the pool has no idle connection to spare (the requests come
first). ``invigil_metrics_database_age_seconds`` tells how old what is shown
is.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import text

from invigil import metrics
from invigil.db.engine import Database
from invigil.errors import Unauthorized
from invigil.logs import get_logger
from invigil.web.access import SCRAPER
from invigil.web.public_limits import RateLimiter, client_key

log = get_logger(__name__)
router = APIRouter(tags=["health"])
MIN_TOKEN = 32
MAX_FILE = 4096
_made = threading.Lock()

_JOBS = text(
    """
    SELECT queue_name,
      count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())),
      count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()),
      count(*) FILTER (WHERE status = 'doing'),
      min(id) FILTER (WHERE status = 'todo' AND scheduled_at IS NULL),
      min(scheduled_at) FILTER (WHERE status = 'todo' AND scheduled_at <= now())
    FROM procrastinate_jobs WHERE status IN ('todo', 'doing')
    GROUP BY queue_name
    """
)
# When the first unscheduled waiting job of each queue was deferred (ids
# grow with time: the smallest id waited longest).
_DEFERRED = text(
    "SELECT job_id, min(at) FROM procrastinate_events"
    " WHERE job_id = ANY(:ids) AND type = 'deferred' GROUP BY job_id"
)
_OUTBOX = text("SELECT waiting, oldest FROM platform_mail_outbox_backlog()")
_NOW = text("SELECT now()")


@dataclass
class Snapshot:
    """The database gauges as last read."""

    read_at: float  # time.monotonic()
    queues: dict[str, tuple[int, int, int, float]] = field(default_factory=dict)
    outbox_waiting: int = 0
    outbox_oldest_seconds: float = 0.0


class DatabaseGauges:
    """A prometheus-client collector of the gauges read from the database."""

    def __init__(
        self,
        db: Database,
        queues: Sequence[str],
        cache_seconds: float,
        query_seconds: float,
        clock: Any = time.monotonic,
    ) -> None:
        self.db = db
        self.queues = tuple(sorted(set(queues)))
        self.cache_seconds = cache_seconds
        self.query_seconds = query_seconds
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._ok = False
        self._reading = threading.Lock()

    def snapshot(self) -> Snapshot | None:
        """The last values, read again first when older than the cache allows
        (by one scrape at a time; the others take the last values)."""
        now = self.clock()
        last = self._snapshot
        if last is not None and now - last.read_at < self.cache_seconds:
            return last
        if not self._reading.acquire(blocking=False):
            return last
        try:
            if self._pool_busy():
                log.info("metrics.database_skipped", reason="no idle pooled connection")
                return self._snapshot
            try:
                self._snapshot = self._read(now)
                self._ok = True
            except Exception as exc:
                self._ok = False
                log.warning("metrics.database_failed", error=type(exc).__name__)
            return self._snapshot
        finally:
            self._reading.release()

    def _pool_busy(self) -> bool:
        pool: Any = self.db.engine.pool
        size = pool.size() if hasattr(pool, "size") else 0
        return bool(size) and pool.checkedout() >= size

    def _read(self, now: float) -> Snapshot:
        snap = Snapshot(read_at=now, queues={q: (0, 0, 0, 0.0) for q in self.queues})
        with self.db.platform_connection() as conn:
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(max(1, int(self.query_seconds * 1000)))},
            )
            db_now = conn.execute(_NOW).scalar_one()
            rows = conn.execute(_JOBS).all()
            first_ids = [r[4] for r in rows if r[4] is not None]
            deferred: dict[Any, Any] = {}
            if first_ids:
                for job_id, at in conn.execute(_DEFERRED, {"ids": first_ids}):
                    deferred[job_id] = at
            for queue, waiting, scheduled, running, first_id, first_at in rows:
                since = [t for t in (first_at, deferred.get(first_id)) if t is not None]
                lag = max(0.0, (db_now - min(since)).total_seconds()) if since else 0.0
                snap.queues[queue] = (waiting, scheduled, running, lag)
            outbox = conn.execute(_OUTBOX).one()
            snap.outbox_waiting = int(outbox[0] or 0)
            if outbox[1] is not None:
                snap.outbox_oldest_seconds = max(0.0, (db_now - outbox[1]).total_seconds())
        return snap

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        up = GaugeMetricFamily(
            "invigil_metrics_database_up",
            "1 when the last read of the database gauges succeeded",
            value=1 if self._ok else 0,
        )
        yield up
        if snap is None:
            return
        yield GaugeMetricFamily(
            "invigil_metrics_database_age_seconds",
            "How old the database gauges shown are",
            value=max(0.0, self.clock() - snap.read_at),
        )
        families = {
            "waiting": GaugeMetricFamily(
                "invigil_jobs_waiting", "Jobs ready to run, not started", labels=["queue"]
            ),
            "scheduled": GaugeMetricFamily(
                "invigil_jobs_scheduled",
                "Jobs scheduled for later (deadlines, retries)",
                labels=["queue"],
            ),
            "running": GaugeMetricFamily(
                "invigil_jobs_running", "Jobs being run now", labels=["queue"]
            ),
            "lag": GaugeMetricFamily(
                "invigil_jobs_oldest_waiting_seconds",
                "How long the oldest ready job has waited to start (0: none waits)",
                labels=["queue"],
            ),
        }
        for queue, (waiting, scheduled, running, lag) in sorted(snap.queues.items()):
            families["waiting"].add_metric([queue], waiting)
            families["scheduled"].add_metric([queue], scheduled)
            families["running"].add_metric([queue], running)
            families["lag"].add_metric([queue], lag)
        yield from families.values()
        yield GaugeMetricFamily(
            "invigil_mail_outbox_waiting",
            "Mails queued and not sent yet",
            value=snap.outbox_waiting,
        )
        yield GaugeMetricFamily(
            "invigil_mail_outbox_oldest_seconds",
            "How long the oldest unsent mail has waited (0: none waits)",
            value=snap.outbox_oldest_seconds,
        )


class _ProcessSeries:
    """This process's own series (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class Exposition:
    """What one scrape answers, in this process."""

    def __init__(self, gauges: DatabaseGauges) -> None:
        self.gauges = gauges

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=False)
        if metrics.multiprocess():
            from prometheus_client import multiprocess

            _forget_dead_processes(os.environ[metrics.MULTIPROC_ENV])
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(_ProcessSeries())
        registry.register(self.gauges)
        return registry

    def render(self, accept: str | None) -> tuple[bytes, str]:
        metrics.refresh_pools()
        registry = self.registry()
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


def _forget_dead_processes(folder: str) -> None:
    """Drop the live gauges of worker processes that have exited (uvicorn
    restarts a dead worker under a new pid): ``livesum`` counts the living."""
    from prometheus_client import multiprocess

    pids: set[int] = set()
    for path in Path(folder).glob("gauge_live*_*.db"):
        digits = path.stem.rsplit("_", 1)[-1]
        if digits.isdigit():
            pids.add(int(digits))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass


def token_sha256(path: Path | None) -> bytes | None:
    """The sha256 of the scraper's token in ``path``; None when there is none
    (unset, unreadable or too short: the last two are logged)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            secret = f.read(MAX_FILE + 1).strip()
    except OSError as exc:
        log.error("metrics.token_unreadable", error=type(exc).__name__)
        return None
    if len(secret) < MIN_TOKEN or len(secret) > MAX_FILE:
        log.error("metrics.token_unusable", detail=f"it must hold {MIN_TOKEN}+ characters")
        return None
    return hashlib.sha256(secret).digest()


def _limiter(app: Any) -> RateLimiter:
    found: RateLimiter | None = getattr(app.state, "scraper_limiter", None)
    if found is None:
        with _made:
            found = getattr(app.state, "scraper_limiter", None)
            if found is None:
                s = app.state.settings
                found = RateLimiter(
                    s.operator_failures_per_minute, s.operator_failures_burst, 10_000
                )
                app.state.scraper_limiter = found
    return found


def _scraper(request: Request) -> None:
    """The scraper, from its bearer token; see the module docstring."""
    expected = token_sha256(request.app.state.settings.metrics_token_file)
    if expected is None:
        raise HTTPException(404, "Not Found")  # as if nothing were served here
    limiter = _limiter(request.app)
    who = client_key(request.client.host if request.client else None)
    wait = limiter.waiting(who)
    if wait <= 0:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = hashlib.sha256(token.strip().encode("utf-8", "replace")).digest()
        if scheme.lower() == "bearer" and hmac.compare_digest(given, expected):
            return
        log.warning("metrics.refused", client=who)
        wait = limiter.hit(who)
        if wait <= 0:
            raise Unauthorized("send Authorization: Bearer <metrics token>")
    raise HTTPException(
        429,
        "too many failed scrapes from this address; wait, then try again",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


_scraper.__permission__ = SCRAPER  # type: ignore[attr-defined]
Scraper: Any = Depends(_scraper)


@router.get("/metrics", include_in_schema=False, dependencies=[Scraper])
def scrape(request: Request) -> Response:
    """Prometheus metrics (text exposition format, or OpenMetrics when asked)."""
    exposition: Exposition | None = request.app.state.metrics
    if exposition is None:  # the app is still starting (its database is not open yet)
        raise HTTPException(503, "starting; try again in a moment")
    body, content_type = exposition.render(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
