"""Observability: /metrics (what it shows and who may read it), request ids
in answers and log lines, and OpenTelemetry traces when configured."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from invigil import logs, metrics, tracing
from invigil.app import create_app
from invigil.delivery.mail import NOT_CONFIGURED
from invigil.delivery.models import OutboxMail
from invigil.jobs.queue import job_log_scope
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "s" * 48
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def scraped(settings: Settings, db: BoundDatabase, tmp_path: Path) -> FastAPI:
    """The app with a scraper token and no caching of the database gauges."""
    token_file = tmp_path / "metrics.token"
    token_file.write_text(TOKEN + "\n")
    configured = settings.model_copy(
        update={"metrics_token_file": token_file, "metrics_cache_seconds": 0}
    )
    return create_app(configured, db, run_jobs=False)


def scrape(client: TestClient) -> dict[str, list[Any]]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["cache-control"] == "no-store"
    families: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(r.text):
        families.setdefault(family.name, []).extend(family.samples)
    return families


def value(families: dict[str, list[Any]], sample: str, **labels: str) -> float:
    found = [
        s.value
        for f in families.values()
        for s in f
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert found, f"no {sample} {labels}"
    return float(sum(found))


def test_latency_by_route_template_never_by_raw_path(scraped: FastAPI) -> None:
    client = TestClient(scraped, raise_server_exceptions=False)
    exam = str(uuid.uuid4())
    stray = f"/no/such/{uuid.uuid4()}"
    before = scrape(client)
    assert client.get(f"/api/v1/exams/{exam}").status_code == 401
    assert client.get(stray).status_code == 404
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/player.js").status_code in (200, 404)
    after = scrape(client)
    count = "invigil_http_request_duration_seconds_count"
    exams = {"route": "/api/v1/exams/{exam_id}", "method": "GET", "status": "4xx"}
    seen_before = value(before, count, **exams) if _has(before, count, exams) else 0
    assert value(after, count, **exams) == seen_before + 1
    assert value(after, count, route="/healthz", method="GET", status="2xx") >= 1
    assert value(after, count, route="unmatched", method="GET", status="4xx") >= 1
    assert value(after, count, route="/static/{path}", method="GET") >= 1
    assert value(after, "invigil_http_request_duration_seconds_bucket", le="+Inf", **exams) >= 1
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert exam not in text and stray not in text
    routes = {s.labels["route"] for s in after["invigil_http_request_duration_seconds"]}
    assert not [r for r in routes if UUID.search(r)], routes
    assert "invigil_http_requests_in_flight" in after
    assert value(after, "invigil_build_info") == 1


def _has(families: dict[str, list[Any]], sample: str, labels: dict[str, str]) -> bool:
    return any(
        s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        for f in families.values()
        for s in f
    )


def test_no_tenant_or_person_in_any_label(
    scraped: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client = TestClient(scraped, raise_server_exceptions=False)
    user = make_user(db, tenant_a.id, ["tenant_admin"])
    assert client.get("/api/v1/me", headers=bearer(scraped, db, user)).status_code == 200
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    for secret in (str(tenant_a.id), tenant_a.slug, user.email, str(user.id)):
        assert secret not in text
    labels = {k for f in text_string_to_metric_families(text) for s in f.samples for k in s.labels}
    assert "tenant" not in labels and "tenant_id" not in labels


def test_unauthorised_scrapes_are_refused(
    scraped: FastAPI, app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client = TestClient(scraped, raise_server_exceptions=False)
    user = bearer(scraped, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    assert client.get("/metrics").status_code == 401
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 48}).status_code == 401
    )
    assert client.get("/metrics", headers=user).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    # Over the failures' burst, even the right token waits.
    for _ in range(5):
        client.get("/metrics")
    limited = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # No token configured (the default): nothing is served there.
    plain = TestClient(app, raise_server_exceptions=False)
    assert plain.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_a_short_token_file_serves_nothing(
    settings: Settings, db: BoundDatabase, tmp_path: Path
) -> None:
    short = tmp_path / "short.token"
    short.write_text("too-short")
    app = create_app(settings.model_copy(update={"metrics_token_file": short}), db, run_jobs=False)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/metrics", headers={"Authorization": "Bearer too-short"}).status_code == 404


def test_job_queue_gauges_reflect_waiting_and_scheduled_jobs(
    scraped: FastAPI, db: BoundDatabase
) -> None:
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    with db.unit_of_work() as uow:
        uow.defer("invigil:no.such.task", queue=queue)
        uow.defer("invigil:no.such.task", queue=queue, at=datetime.now(UTC) - timedelta(minutes=3))
        uow.defer("invigil:no.such.task", queue=queue, at=datetime.now(UTC) + timedelta(hours=1))
    families = scrape(TestClient(scraped))
    assert value(families, "invigil_jobs_waiting", queue=queue) == 2
    assert value(families, "invigil_jobs_scheduled", queue=queue) == 1
    assert value(families, "invigil_jobs_running", queue=queue) == 0
    assert 170 <= value(families, "invigil_jobs_oldest_waiting_seconds", queue=queue) < 600
    # Every queue the app's tasks use is shown, with or without jobs.
    for known in ("mail", "maintenance"):
        value(families, "invigil_jobs_waiting", queue=known)
    assert value(families, "invigil_metrics_database_up") == 1


def test_mail_outbox_gauges_leave_out_mail_held_for_want_of_smtp(
    scraped: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    now = datetime.now(UTC)
    with db.unit_of_work(tenant_a.id) as uow:
        for age, error in ((timedelta(minutes=15), None), (timedelta(days=40), NOT_CONFIGURED)):
            uow.add(
                OutboxMail(
                    tenant_id=tenant_a.id,
                    id=uuid.uuid4(),
                    to_address="someone@example.test",
                    subject="s",
                    body="b",
                    error=error,
                    created_at=now - age,
                )
            )
        uow.flush()
    families = scrape(TestClient(scraped))
    assert value(families, "invigil_mail_outbox_waiting") >= 1
    assert 15 * 60 - 5 <= value(families, "invigil_mail_outbox_oldest_seconds") < 86400


def test_database_gauges_are_cached_and_read_by_one_scrape_at_a_time(
    settings: Settings, db: BoundDatabase
) -> None:
    from invigil.web.metrics import DatabaseGauges

    now = [100.0]
    gauges = DatabaseGauges(db, ["mail"], cache_seconds=5, query_seconds=1, clock=lambda: now[0])
    first = gauges.snapshot()
    assert first is not None and gauges.snapshot() is first  # within 5 s: no query
    now[0] += 6
    second = gauges.snapshot()
    assert second is not first
    # A read already under way: the last values, no second query.
    now[0] += 6
    with gauges._reading:
        assert gauges.snapshot() is second


def test_database_gauges_keep_off_a_busy_pool(db: BoundDatabase) -> None:
    from invigil.web.metrics import DatabaseGauges

    gauges = DatabaseGauges(db, ["mail"], cache_seconds=0, query_seconds=1)
    held = [db.engine.connect() for _ in range(db.engine.pool.size())]  # type: ignore[attr-defined]
    try:
        assert gauges.snapshot() is None
        names = metrics.names(gauges.collect())
        assert names == {"invigil_metrics_database_up"}
    finally:
        for conn in held:
            conn.close()
    assert gauges.snapshot() is not None


def test_admission_gauges_follow_waiting_admitted_and_refused() -> None:
    from invigil.admission import Admission

    release = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def call(app: Any) -> int:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "path": "/api/v1/x", "method": "GET", "headers": []}
        await app(scope, receive, send)
        return int(sent[0]["status"])

    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    async def run() -> None:
        admitted, refused = (
            sample("invigil_admission_admitted_total"),
            sample("invigil_admission_refused_total"),
        )
        app = Admission(slow, limit=1, wait_seconds=0.3)
        first = asyncio.create_task(call(app))
        await asyncio.sleep(0.05)
        assert sample("invigil_admission_active") == 1
        second = asyncio.create_task(call(app))
        await asyncio.sleep(0.05)
        assert sample("invigil_admission_waiting") == 1
        assert await second == 503  # waited 0.3 s for the slot
        assert sample("invigil_admission_waiting") == 0
        assert sample("invigil_admission_refused_total") == refused + 1
        release.set()
        assert await first == 204
        assert sample("invigil_admission_active") == 0
        assert sample("invigil_admission_admitted_total") == admitted + 1
        assert sample("invigil_admission_limit") == 1

    asyncio.run(run())


def test_pool_gauges(scraped: FastAPI, db: BoundDatabase) -> None:
    families = scrape(TestClient(scraped))
    pool: Any = db.engine.pool
    assert value(families, "invigil_db_pool_size") == pool.size()
    assert value(families, "invigil_db_pool_checked_out") == pool.checkedout() >= 1  # the test's
    assert value(families, "invigil_db_pool_overflow") == 0


def test_the_dashboard_queries_only_metrics_that_exist(scraped: FastAPI) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "invigil.json").read_text())
    assert dashboard["title"] and dashboard["panels"] and dashboard["schemaVersion"]
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    used = {name for expr in exprs for name in re.findall(r"\binvigil_[a-z_]+", expr)}
    client = TestClient(scraped, raise_server_exceptions=False)
    client.get("/healthz")
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    exposed: set[str] = set()
    for family in text_string_to_metric_families(text):
        exposed.add(family.name)
        exposed |= {family.name + s for s in ("_total", "_bucket", "_sum", "_count", "_created")}
        exposed |= {s.name for s in family.samples}
    assert len(exprs) >= 10 and used
    assert used - exposed == set()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# Request ids and log lines


def test_a_request_id_is_made_or_kept_and_sent_back(client: TestClient) -> None:
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/healthz").headers["x-request-id"] != made
    given = "edge-7f3a.b:42_Z"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["x-request-id"] == given
    for bad in ("x" * 129, "-starts-badly", "has space", 'quote"d', "ü".encode()):
        got = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert got != bad and re.fullmatch(r"[0-9a-f]{32}", got)
    # Errors too (a 404 problem, a 405).
    assert "x-request-id" in client.get("/no/such/page").headers
    assert "x-request-id" in client.delete("/healthz").headers


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The app's own log configuration (JSON lines), written here."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("json", "INFO")
    structlog.configure(cache_logger_on_first_use=False)
    out = io.StringIO()
    root.handlers[0].setStream(out)  # type: ignore[attr-defined]
    try:
        yield out
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_every_line_of_a_request_carries_its_id_and_tenant(
    log_lines: io.StringIO, settings: Settings, db: BoundDatabase, tenant_a: Tenant
) -> None:
    app = create_app(settings, db, run_jobs=False)
    log = logs.get_logger("tests.probe")

    @app.get("/probe-logs")
    def probe() -> dict[str, str]:  # runs in a worker thread, as sync routes do
        log.info("probe.before")
        with db.unit_of_work(tenant_a.id):
            log.info("probe.inside")
        log.info("probe.after")
        return {}

    client = TestClient(app, raise_server_exceptions=False)
    rid = "trace-0123456789abcdef"
    assert client.get("/probe-logs", headers={"X-Request-ID": rid}).status_code == 200
    client.get("/probe-logs")  # another request: another id, no tenant carried over
    found: dict[str, dict[str, Any]] = {}
    for line in lines(log_lines):
        found.setdefault(line["event"], line)  # the first request's
    assert found["probe.before"]["request_id"] == rid and "tenant" not in found["probe.before"]
    assert found["probe.inside"]["tenant"] == str(tenant_a.id)
    assert found["probe.after"]["tenant"] == str(tenant_a.id)
    probes = [line for line in lines(log_lines) if line["event"] == "probe.before"]
    assert len(probes) == 2 and probes[1]["request_id"] != rid
    # Outside any request: no request id.
    log.info("probe.outside")
    outside = [line for line in lines(log_lines) if line["event"] == "probe.outside"]
    assert "request_id" not in outside[0]


def test_an_unexpected_error_is_logged_and_answered_with_the_request_id(
    log_lines: io.StringIO, settings: Settings, db: BoundDatabase, tenant_a: Tenant
) -> None:
    app = create_app(settings, db, run_jobs=False)

    @app.get("/probe-fails")
    def fails() -> None:
        with db.unit_of_work(tenant_a.id):
            pass
        raise RuntimeError("boom")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/probe-fails", headers={"X-Request-ID": "failing-1234"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "failing-1234"
    failed = [line for line in lines(log_lines) if line["event"] == "request.failed"]
    assert failed[0]["request_id"] == "failing-1234"
    assert failed[0]["tenant"] == str(tenant_a.id)


def test_a_jobs_lines_carry_its_id_task_and_tenant(log_lines: io.StringIO) -> None:
    log = logs.get_logger("tests.job")
    tenant = str(uuid.uuid4())

    class Job:
        id = 4711
        task_name = "invigil:delivery.send_mail"
        task_kwargs = {"tenant_id": tenant, "mail_id": "m"}

    class Context:
        job = Job()

    async def task() -> str:
        log.info("job.step")
        await asyncio.to_thread(log.info, "job.thread")  # sync tasks run in a thread
        return "done"

    assert asyncio.run(job_log_scope(task, Context(), None)) == "done"  # type: ignore[arg-type]
    for line in [line for line in lines(log_lines) if line["event"].startswith("job.")]:
        assert line["job_id"] == "4711" and line["tenant"] == tenant
        assert line["task"] == "invigil:delivery.send_mail"


def test_the_worker_gives_each_job_its_log_scope(database: Any, tenant_a: Tenant) -> None:
    """Through procrastinate itself: invigil's worker runs jobs under the scope."""
    from invigil.jobs.queue import make_app, run_worker

    app = make_app(database.urls)
    queue = f"tests-scope-{uuid.uuid4().hex[:8]}"
    seen: list[tuple[str | None, str | None, str | None]] = []

    @app.task(name="tests.scoped", queue=queue)
    def scoped(tenant_id: str) -> None:  # a sync task: run in a thread
        found = logs.current()
        assert found is not None
        seen.append((found.job_id, found.task, found.tenant))

    with database.unit_of_work(tenant_a.id) as uow:
        job_id = uow.defer("tests.scoped", queue=queue, tenant_id=str(tenant_a.id))
    asyncio.run(run_worker(app, queues=[queue], wait=False))
    assert seen == [(str(job_id), "tests.scoped", str(tenant_a.id))]


# Traces


def test_tracing_is_off_by_default(app: FastAPI) -> None:
    assert app.state.tracer_provider is None
    assert not app._native_telemetry.enabled()  # FastAPI checks nothing per request


def test_traces_of_a_request_and_its_statements(
    settings: Settings, db: BoundDatabase, tenant_a: Tenant
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = tracing.provider(None, "test", exporter=exporter)
    app = create_app(settings, db, run_jobs=False, tracer_provider=provider)
    user = make_user(db, tenant_a.id, ["tenant_admin"])
    headers = bearer(app, db, user)
    with TestClient(app, raise_server_exceptions=False) as client:
        exam = uuid.uuid4()
        exporter.clear()  # the statements of making the user
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        headers["traceparent"] = parent
        assert client.get(f"/api/v1/exams/{exam}", headers=headers).status_code == 404
        client.get("/healthz")  # not traced
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.name == "GET /api/v1/exams/{exam_id}"]
    assert len(server) == 1
    trace_id = server[0].context.trace_id
    assert trace_id == 0x0AF7651916CD43DD8448EB211C80319C  # the caller's trace goes on
    assert server[0].parent is not None and server[0].parent.span_id == 0xB7AD6B7169203331
    statements = [s for s in spans if any(k.startswith("db.") for k in s.attributes or {})]
    assert statements, [s.name for s in spans]
    assert all(s.context.trace_id == trace_id for s in statements)
    assert not [s for s in spans if "/healthz" in s.name]
    for s in spans:  # no id of the request's path, no tenant in a span's name
        assert str(exam) not in s.name and str(tenant_a.id) not in s.name
    # After shutdown the shared engine is no longer traced.
    exporter.clear()
    with db.unit_of_work(tenant_a.id) as uow:
        uow.session.execute(__import__("sqlalchemy").text("SELECT 1"))
    assert exporter.get_finished_spans() == ()


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_an_otlp_endpoint_receives_the_spans(settings: Settings, db: BoundDatabase) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.received.clear()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        app = create_app(
            settings.model_copy(update={"otlp_endpoint": endpoint}), db, run_jobs=False
        )
        assert app.state.tracer_provider is not None
        with TestClient(app, raise_server_exceptions=False) as client:
            client.get(f"/api/v1/exams/{uuid.uuid4()}")
        # Shutdown flushed the batch.
        assert [path for path, _ in _Collector.received] and all(
            path == "/v1/traces" for path, _ in _Collector.received
        )
        names = set()
        for _, body in _Collector.received:
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
                assert attrs["service.name"] == "invigil"
                names |= {s.name for scope in resource.scope_spans for s in scope.spans}
        assert "GET /api/v1/exams/{exam_id}" in names
    finally:
        server.shutdown()


def test_the_otlp_setting_reads_the_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert Settings().otlp_endpoint == "http://collector:4318"
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"


# Several server processes


def test_workers_values_are_added_up_at_a_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes count into a shared folder; a third, scraping, adds
    them up, and forgets the live gauges of a process that has exited."""
    folder = tmp_path / "prom"
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))  # restored after the test
    folder.mkdir()
    (folder / "counter_4242.db").write_bytes(b"left by an earlier run")
    metrics.prepare_multiprocess_dir(folder)
    assert list(folder.iterdir()) == []  # emptied at each start
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT / "src")}
    worker = (
        "from invigil import metrics\n"
        "metrics.ADMITTED.inc(3)\n"
        "metrics.POOL_SIZE.set(10)\n"
        "metrics.REQUEST_SECONDS.labels('/healthz', 'GET', '2xx').observe(0.01)\n"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    scraper = (
        "import os\n"
        "from invigil.web.metrics import Exposition\n"
        "class NoDatabase:\n"
        "    def collect(self):\n"
        "        return []\n"
        "print(Exposition(NoDatabase()).render(None)[0].decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", scraper], env=env, check=True, timeout=60, capture_output=True
    ).stdout.decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(out)
        for s in f.samples
    }
    assert samples[("invigil_admission_admitted_total", ())] == 6
    assert (
        samples[
            (
                "invigil_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "/healthz"), ("status", "2xx")),
            )
        ]
        == 2
    )
    # Both writers have exited: their pool sizes are no longer counted.
    assert samples.get(("invigil_db_pool_size", ()), 0) == 0
