"""Prometheus metrics: what an operator scrapes (docs/operations.md, "Metrics").

The series the process keeps itself are defined here, once, at import:
requests (by route template, never a raw path), admission control, the
connection pool, proctoring events and evidence bytes. The gauges that need
a database query (job queues, the mail outbox) are read when scraped, by
``invigil.web.metrics``, which also serves ``/metrics``.

Several server processes (``invigil serve --workers N``) share their series
through prometheus-client's multiprocess mode: each process writes its
values to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (set before
the workers start, see :func:`prepare_multiprocess_dir`), and a scrape, in
whichever worker it lands, adds them up: counters and histograms summed,
gauges summed over the living processes (``livesum``).

No label carries a tenant, a person or an id: labels are route templates,
HTTP methods, status classes, queue names and evidence kinds, all bounded
by the code (ADR 0070).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; the candidate's saves take a few milliseconds, a PDF report a few
# seconds. Past 30 s a request is a problem whatever it did.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "invigil_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response (event streams excluded)",
    ("route", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "invigil_http_requests_in_flight",
    "Requests being answered now (event streams excluded)",
    multiprocess_mode="livesum",
)
STREAMS_OPEN = Gauge(
    "invigil_http_event_streams_open",
    "Event streams (live monitoring) open now",
    multiprocess_mode="livesum",
)
ADMISSION_WAITING = Gauge(
    "invigil_admission_waiting",
    "Requests waiting for an admission slot",
    multiprocess_mode="livesum",
)
ADMISSION_ACTIVE = Gauge(
    "invigil_admission_active",
    "Requests holding an admission slot",
    multiprocess_mode="livesum",
)
ADMISSION_LIMIT = Gauge(
    "invigil_admission_limit",
    "Admission slots (summed over server processes)",
    multiprocess_mode="livesum",
)
ADMITTED = Counter("invigil_admission_admitted", "Requests admitted")
REFUSED = Counter(
    "invigil_admission_refused", "Requests refused with 503 after waiting too long for a slot"
)
POOL_SIZE = Gauge(
    "invigil_db_pool_size",
    "Connections the app role's pool keeps (summed over server processes)",
    multiprocess_mode="livesum",
)
POOL_CHECKED_OUT = Gauge(
    "invigil_db_pool_checked_out",
    "Pooled connections in use",
    multiprocess_mode="livesum",
)
POOL_OVERFLOW = Gauge(
    "invigil_db_pool_overflow",
    "Connections open beyond the pool's size (its overflow)",
    multiprocess_mode="livesum",
)
POOL_MAX_OVERFLOW = Gauge(
    "invigil_db_pool_max_overflow",
    "The most connections the pool may open beyond its size",
    multiprocess_mode="livesum",
)
PROCTORING_EVENTS = Counter(
    "invigil_proctoring_events_ingested", "Proctoring events stored from candidates' browsers"
)
EVIDENCE_BYTES = Counter(
    "invigil_evidence_stored_bytes",
    "Bytes written to the evidence stores (encrypted), by kind",
    ("kind",),
)
BUILD = Gauge(
    "invigil_build_info", "The running version", ("version",), multiprocess_mode="liveall"
)

# What a method label may say; anything else is "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
UNMATCHED = "unmatched"  # no route: a 404 for a path nothing serves (never the path itself)
_EVENT_STREAM = b"text/event-stream"


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def prepare_multiprocess_dir(folder: Path) -> Path:
    """Make ``folder`` the home of the workers' shared values, emptied of
    what a previous run left there (it would be added to this run's), and
    point the environment at it, before any worker starts."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def route_label(scope: Scope, root_path: str) -> str:
    """The template of the route that answered (``/api/v1/exams/{exam_id}``),
    or a mount's prefix with ``{path}``; never the request's own path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    mounted = scope.get("root_path", "")
    if isinstance(mounted, str) and mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path) :] + "/{path}"
    return UNMATCHED


class RequestMetrics:
    """Pure ASGI middleware: each request's latency by route template,
    method and status class, and the requests in flight. An answer of type
    ``text/event-stream`` (a live console or player stream) counts as an
    open stream instead: it lasts as long as someone watches."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 0
        stream = False

        async def sending(message: Message) -> None:
            nonlocal status, stream
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        if value.startswith(_EVENT_STREAM):
                            stream = True
                            IN_FLIGHT.dec()
                            STREAMS_OPEN.inc()
                        break
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, sending)
        except BaseException:
            status = status or 500
            raise
        finally:
            if stream:
                STREAMS_OPEN.dec()
            else:
                IN_FLIGHT.dec()
                method = scope["method"] if scope["method"] in _METHODS else "other"
                key = (route_label(scope, root_path), method, _STATUS.get(status // 100, "5xx"))
                child = self._children.get(key)
                if child is None:
                    child = self._children[key] = REQUEST_SECONDS.labels(*key)
                child.observe(time.perf_counter() - started)


def watch_pool(engine: Any) -> None:
    """Keep the pool gauges current from ``engine`` (the app role's
    SQLAlchemy engine; one per server process) as connections are checked
    out and in, and again at each scrape (:func:`refresh_pools`)."""
    from sqlalchemy import event

    pool = engine.pool
    if any(ref() is pool for ref in _pools):
        return
    _pools.append(weakref.ref(pool))
    POOL_SIZE.set(pool.size() if hasattr(pool, "size") else 0)
    POOL_MAX_OVERFLOW.set(max(0, getattr(pool, "_max_overflow", 0)))
    # At checkin the connection is not back in the pool yet: one less.
    event.listen(engine, "checkout", lambda *_: _record(pool, 0))
    event.listen(engine, "checkin", lambda *_: _record(pool, 1))


_pools: list[weakref.ref[Any]] = []


def _record(pool: Any, returning: int) -> None:
    size = pool.size() if hasattr(pool, "size") else 0
    out = max(0, pool.checkedout() - returning)
    POOL_CHECKED_OUT.set(out)
    POOL_OVERFLOW.set(max(0, out - size))


def refresh_pools() -> None:
    """Read the watched pools again (a scrape's own process is exact)."""
    for ref in list(_pools):
        pool = ref()
        if pool is None:
            _pools.remove(ref)
        else:
            _record(pool, 0)


def names(families: Iterable[Any]) -> set[str]:
    """The sample names a set of metric families exposes (for checks)."""
    return {s.name for f in families for s in f.samples}
