"""The FastAPI application: routers, problem+json errors, health."""

from __future__ import annotations

import base64
import gc
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import invigil.certification  # noqa: F401 - registers its evidence bundle kind
from invigil import __version__, tracing
from invigil import health as health_checks
from invigil import metrics as app_metrics
from invigil import retention as _retention  # noqa: F401 - registers its jobs and purges
from invigil.admission import Admission
from invigil.ai import api as ai_api
from invigil.ai import pages as ai_pages
from invigil.audit import api as audit_api
from invigil.audit import bundle_api, bundle_pages
from invigil.audit import pages as audit_pages
from invigil.certification import api as certification_api
from invigil.certification import certificate_pages as certification_certificate_pages
from invigil.certification import coverage_api as certification_coverage_api
from invigil.certification import coverage_pages as certification_coverage_pages
from invigil.certification import credentials_api as certification_credentials
from invigil.certification import mail as certification_mail
from invigil.certification import pages as certification_pages
from invigil.certification import recert_pages as certification_recert_pages
from invigil.certification import verify_pages as certification_verify_pages
from invigil.content import api as content_api
from invigil.content import formats as content_formats
from invigil.content import images as content_images
from invigil.content import images_api as content_images_api
from invigil.content import pages as content_pages
from invigil.context import Services
from invigil.db.engine import UNREACHABLE, Database
from invigil.delivery import api as delivery_api
from invigil.delivery import attempt_pages as delivery_attempt_pages
from invigil.delivery import attempts_api as delivery_attempts_api
from invigil.delivery import bulk as delivery_bulk
from invigil.delivery import error_pages as candidate_errors
from invigil.delivery import landing as delivery_landing
from invigil.delivery import pages as delivery_pages
from invigil.delivery import player as delivery_player
from invigil.errors import (
    PROBLEM_MEDIA_TYPE,
    DomainError,
    Invalid,
    database_unreachable,
    problem,
)
from invigil.evidence import api as evidence_api
from invigil.evidence.kinds import KINDS
from invigil.evidence.uploads import MAX_CHUNK
from invigil.identity import api as identity_api
from invigil.identity import pages as identity_pages
from invigil.identity import sso_api as identity_sso_api
from invigil.ledger import api as ledger_api
from invigil.ledger import operator_api as ledger_operator_api
from invigil.ledger import pages as ledger_pages
from invigil.limits import BodyLimit, Limit, MiB
from invigil.logs import RequestContext, get_logger
from invigil.logs import configure as configure_logs
from invigil.lti import api as lti_api
from invigil.lti import launch_pages as lti_launch_pages
from invigil.lti import pages as lti_pages
from invigil.lti import registration_pages as lti_registration_pages
from invigil.proctoring import api as proctoring_api
from invigil.proctoring import capture_api
from invigil.proctoring import events_api as proctoring_events_api
from invigil.proctoring import face_check as proctoring_face_check
from invigil.proctoring import live_api as proctoring_live_api
from invigil.proctoring import live_candidate as proctoring_live_candidate
from invigil.proctoring import live_pages as proctoring_live_pages
from invigil.proctoring import review_api as proctoring_review_api
from invigil.proctoring import review_pages as proctoring_review_pages
from invigil.proctoring.capture_api import SINGLE_SHOT
from invigil.results import analytics_api as results_analytics_api
from invigil.results import analytics_pages as results_analytics_pages
from invigil.results import compare_pages as results_compare
from invigil.results import grading_api as results_grading_api
from invigil.results import grading_pages as results_grading_pages
from invigil.results import listing_api as results_listing_api
from invigil.results import listing_pages as results_listing_pages
from invigil.results import release_api as results_release_api
from invigil.results import release_pages as results_release_pages
from invigil.results import result_page as results_result_page
from invigil.results import result_pages as results_pages
from invigil.results import suggestion_pages as results_suggestion_pages
from invigil.results import suggestions_api as results_suggestions_api
from invigil.retention import api as retention_api
from invigil.retention import pages as retention_pages
from invigil.retention import portal_pages as retention_portal_pages
from invigil.retention import requests_api as privacy_requests_api
from invigil.retention import requests_pages as privacy_requests_pages
from invigil.retention import trust_pages as retention_trust_pages
from invigil.security import passwords
from invigil.security.inputs import checked_request
from invigil.settings import Settings, get_settings
from invigil.shortlists import api as shortlists_api
from invigil.shortlists import pages as shortlists_pages
from invigil.tenants import api as tenants_api
from invigil.tenants import branding as tenant_branding
from invigil.web import home, pages
from invigil.web import metrics as metrics_web
from invigil.web.access import Public
from invigil.web.contract import allowed_methods
from invigil.web.contract import install as install_contract
from invigil.web.headers import SecurityHeaders
from invigil.webhooks import api as webhooks_api
from invigil.webhooks import pages as webhooks_pages

log = get_logger(__name__)

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    402: "payment-required",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "gone",
    415: "unsupported-media-type",
    422: "invalid",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# Programs get problem+json: the staff API and the candidate player's API.
# The live console's stream and steps are called by its script, which reads
# problem+json like any program.
_PROGRAM_PATH = re.compile(r"^/api/|^/take/[^/]+/api/|^/proctoring/live/(?:attempts|stream)")
STATIC = Path(__file__).parent / "web" / "static"
# npm packages Invigil serves (installed by `make`, never fetched from a CDN).
NODE_MODULES = Path(
    os.environ.get("INVIGIL_NODE_MODULES") or Path(__file__).resolve().parents[2] / "node_modules"
)
VENDOR = {
    "face-api": ("@vladmandic/face-api", ("dist", "model")),
    "chart.js": ("chart.js", ("dist",)),  # staff pages' charts (web/static/staff/charts.js)
}


# What a candidate's batch of answers or events may weigh. The player cuts
# its answer batches at 768 KiB (static/player/sync.js; one item is at most
# an essay's 60,000 characters, about 180 kB) and sends at most 100 events
# of a few hundred bytes (about 40 kB). FastAPI reads these bodies before the
# guest link is checked, so this is also what a stranger can make it hold.
CANDIDATE_BATCH = 1 * MiB
# A form's fields and multipart framing around an uploaded file.
FORM_OVERHEAD = 64 * 1024


def body_limits() -> list[Limit]:
    """Each class of route and the most its body may carry (anything else:
    the JSON API's 1 MiB). Listed in docs/operations.md."""
    take = r"/take/[^/]+/api"
    return [
        Limit(f"{take}/(?:answers|submit|events)", CANDIDATE_BATCH, "a batch of answers or events"),
        *(Limit(f"{take}/evidence/{k}", KINDS[k].max_size, f"a {k}") for k in SINGLE_SHOT),
        Limit(f"{take}/uploads/[^/]+/chunks/[^/]+", MAX_CHUNK, "a recording chunk"),
        Limit(f"{take}/face-check", proctoring_face_check.MAX_BYTES, "a camera check picture"),
        Limit(r"/api/v1/banks/[^/]+/import", content_formats.MAX_BYTES, "a question import"),
        Limit(
            r"/my/[^/]+/attempts/[^/]+/contest",
            KINDS["contest_attachment"].max_size + FORM_OVERHEAD,
            "a contest with its attachment",
        ),
        Limit(
            r"/authoring/banks/[^/]+/import",
            content_formats.MAX_BYTES + FORM_OVERHEAD,
            "a question import",
        ),
        Limit(r"/api/v1/invitations/import", delivery_bulk.MAX_BYTES, "an invitation import"),
        Limit(
            r"/delivery/invitations/import",
            delivery_bulk.MAX_BYTES + FORM_OVERHEAD,
            "an invitation import",
        ),
        Limit(r"/api/v1/tenant/branding/logo", tenant_branding.MAX_BYTES, "a logo"),
        Limit(r"/admin/branding/logo", tenant_branding.MAX_BYTES + FORM_OVERHEAD, "a logo"),
        Limit(
            r"(?:/api/v1|/authoring)/questions/[^/]+/images",
            content_images.MAX_SIZE + FORM_OVERHEAD,
            "a question image",
        ),
    ]


def api_docs_page() -> Response:
    """FastAPI's Swagger UI page, allowed exactly the CDN it loads from and
    the one inline script it carries (by its hash), nothing else."""
    page = get_swagger_ui_html(openapi_url="/api/openapi.json", title="Invigil - Swagger UI")
    html = bytes(page.body).decode()
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    )
    cdn = "https://cdn.jsdelivr.net"
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {cdn} {hashes}; style-src {cdn} 'unsafe-inline'; "
        f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return page


def for_programs(path: str) -> bool:
    return _PROGRAM_PATH.match(path) is not None


def wants_page(request: Request) -> bool:
    """A person's browser, not a program: outside the API paths, and asking
    for HTML. Everything else keeps problem+json."""
    if for_programs(request.url.path):
        return False
    return "text/html" in request.headers.get("accept", "")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if not for_programs(request.url.path):
            if exc.status != 303 and candidate_errors.is_candidate_page(request.url.path):
                return candidate_errors.render(
                    request, exc.status, headers=exc.headers(), template=exc.page
                )
            return pages.error_page(request, exc)  # people get pages, programs get problems
        return problem_response(exc.status, exc.problem(request.url.path), exc.headers())

    async def database_down(request: Request, exc: Exception) -> Response:
        # One line, no traceback (during an outage every request lands here), and
        # the driver's message only: SQLAlchemy's own names the statement's parameters.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""]
        log.warning(
            "request.database_unreachable",
            path=request.url.path,
            error=f"{type(exc).__name__}: {reason[0][:300]}",
        )
        return await domain_error(request, database_unreachable())

    for cls in UNREACHABLE:
        app.add_exception_handler(cls, database_down)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else "the request failed"
        unknown = status == 404 and detail == "Not Found"
        if unknown:
            detail = f"nothing is served at {request.url.path}"
        if wants_page(request) and status >= 400:
            headers = getattr(exc, "headers", None)
            if candidate_errors.is_candidate_page(request.url.path):
                return candidate_errors.render(
                    request, status, headers=headers, unknown_address=unknown
                )
            return pages.status_page(request, status, detail, headers, unknown_address=unknown)
        body = problem(status, _SLUGS.get(status, "http-error"), detail, request.url.path)
        headers = dict(getattr(exc, "headers", None) or {})
        if status == 405:  # Starlette names the methods of one route of several
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path)) or (
                headers.get("Allow", "")
            )
        return problem_response(status, body, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(".".join(e["location"]) for e in errors)
        if not for_programs(request.url.path) and not evidence_api.wants_problem(request):
            if candidate_errors.is_candidate_page(request.url.path):
                return candidate_errors.render(request, 422, fields=fields)
            return pages.error_page(request, Invalid(f"the form or link is not valid ({fields})"))
        body = problem(
            422, "invalid", f"the request is not valid: {fields}", request.url.path, errors=errors
        )
        return problem_response(422, body)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # The reference is what a person can quote; the operator finds it in the log.
        reference = secrets.token_hex(6)
        log.exception("request.failed", path=request.url.path, reference=reference)
        response: Response
        if wants_page(request):
            if candidate_errors.is_candidate_page(request.url.path):
                response = candidate_errors.render(request, 500, reference=reference)
            else:
                response = pages.status_page(request, 500, "", reference=reference)
        else:
            said = "an unexpected error occurred; it has been logged"
            response = problem_response(500, problem(500, "internal", said, request.url.path))
        # This answer leaves outside the middleware that adds the request id.
        request_id = request.scope.get("state", {}).get("request_id")
        if isinstance(request_id, str):
            response.headers["X-Request-ID"] = request_id
        return response


def _settle_heap() -> None:
    """Move everything a started server holds (modules, the app, its routes,
    pools, caches) out of the garbage collector's reach (gc.freeze). Nothing
    of it is garbage, yet a full collection walked all of it: about 90 ms
    with every request waiting, a few times a minute under load, which made
    the candidates' slowest answers (docs/performance.md). Collections then
    walk only what requests create; frozen objects are still freed when
    nothing refers to them."""
    gc.collect()
    gc.freeze()


def _observe_database(app: FastAPI, db: Database, traces: Any) -> None:
    """Metrics of ``db``'s pool and the gauges read from it; its statements
    traced when traces are on."""
    from invigil.jobs.queue import tasks

    settings: Settings = app.state.settings
    app_metrics.watch_pool(db.engine)
    app_metrics.BUILD.labels(__version__).set(1)
    queues = {task.queue for task in tasks().tasks.values()}
    app.state.metrics = metrics_web.Exposition(
        metrics_web.DatabaseGauges(
            db, sorted(queues), settings.metrics_cache_seconds, settings.metrics_query_seconds
        )
    )
    if traces is not None:
        tracing.instrument_engine(db.engine, traces)


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    *,
    run_jobs: bool | None = None,
    settle_heap: bool | None = None,
    tracer_provider: Any = None,
) -> FastAPI:
    """Build the app. With no ``db``, open one from the settings (used by
    ``uvicorn --factory`` worker processes). ``settle_heap`` (default: in
    such a worker) freezes what the process holds once started, see
    :func:`_settle_heap`; ``invigil serve`` asks for it, tests do not.
    ``tracer_provider``: where spans go (tests give one with an in-memory
    exporter); by default one for ``settings.otlp_endpoint``, when set."""
    if settle_heap is None:
        settle_heap = settings is None
    if settings is None:  # a uvicorn --factory worker: nobody configured logging yet
        settings = get_settings()
        configure_logs(settings.log_format, settings.log_level)
    if run_jobs is None:
        run_jobs = os.environ.get("INVIGIL_INPROCESS_WORKER") == "1"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from invigil.runtime import open_database

        own_db = app.state.db is None
        if own_db:
            app.state.db = open_database(settings, migrate=False).serve_only()
        _observe_database(app, app.state.db, traces)
        worker = None
        if run_jobs:
            from invigil.jobs.queue import InProcessWorker
            from invigil.runtime import reviver

            worker = InProcessWorker(
                app.state.db.urls, app.state.db, app.state.services, revive=reviver(settings)
            )
            worker.start()
        app.state.worker = worker
        if settle_heap:
            _settle_heap()
        try:
            yield
        finally:
            live_broker = getattr(app.state, "live_broker", None)
            if live_broker is not None:
                await live_broker.close()
            if worker is not None:
                worker.stop()
                app.state.worker = None
            if own_db:
                app.state.db.dispose()
            tracing.shutdown(traces)

    traces = tracer_provider or tracing.provider(settings.otlp_endpoint, __version__)
    app = FastAPI(
        title="Invigil",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below, with a policy that lets its own script run
        redoc_url=None,
        lifespan=lifespan,
        # Before authentication and any lookup: no parameter, form field or
        # JSON body holds what the database cannot store (a 422 naming it).
        dependencies=[Depends(checked_request)],
        # Request spans only when traces are configured (invigil.tracing).
        telemetry=tracing.fastapi_telemetry(traces),  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.tracer_provider = traces
    passwords.configure(settings.argon2_profile)
    certification_mail.configure(settings)  # the certificate mail's links and SMTP
    app.state.db = db
    app.state.worker = None  # the in-process job worker, when this process runs one
    # Fewer requests inside than pooled connections (see invigil.admission):
    # the overflow connections stay free for jobs and nested lookups.
    pooled = db.engine.pool.size() if db is not None else settings.db_pool_size  # type: ignore[attr-defined]
    app.add_middleware(Admission, limit=max(1, pooled))
    # Outside admission control: a body over its limit waits for no slot.
    app.add_middleware(BodyLimit, limits=body_limits())
    # Latency by route template and the requests in flight, 413s and 503s too.
    app.add_middleware(app_metrics.RequestMetrics)
    # The request id: on every log line of the request and in its answer.
    app.add_middleware(RequestContext)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, a 413 or a 503 too
    app.state.services = Services.build(settings)
    app.state.metrics = None
    if db is not None:
        _observe_database(app, db, traces)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["health"], dependencies=[Public])
    def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], dependencies=[Public])
    def readyz(request: Request) -> JSONResponse:
        """The database answers at the expected schema, the object store is writable
        and, when this process runs the job worker, the worker is running."""
        worker = request.app.state.worker
        report = health_checks.readiness(
            request.app.state.db, settings, jobs=worker.status if worker else None
        )
        if report["status"] == "ready":
            return JSONResponse(report)
        body = problem(
            503,
            "unavailable",
            "not ready: "
            + "; ".join(
                f"{name}: {check['detail']}"
                for name, check in report["checks"].items()
                if not check["ok"]
            ),
            request.url.path,
            checks=report["checks"],
        )
        return problem_response(503, body)

    @app.get("/api/docs", include_in_schema=False, dependencies=[Public])
    def api_docs() -> Response:
        """Swagger UI for the OpenAPI document (its script comes from a CDN)."""
        return api_docs_page()

    @app.get("/.well-known/jwks.json", tags=["health"], dependencies=[Public])
    def jwks(request: Request) -> JSONResponse:
        """The public keys of access tokens (and nothing else: checkpoint keys are apart)."""
        return JSONResponse(
            request.app.state.services.keys.jwks(), headers={"Cache-Control": "public, max-age=300"}
        )

    @app.get("/.well-known/invigil-audit-keys.json", tags=["health"], dependencies=[Public])
    def audit_keys(request: Request) -> JSONResponse:
        """The public keys of audit checkpoints, retired ones included: what auditors pin."""
        return JSONResponse(
            request.app.state.services.keys.audit_keys(),
            headers={"Cache-Control": "public, max-age=300"},
        )

    # The candidate's routes first: during an exam they carry nearly every
    # request, and routes are matched in order, one regular expression at a
    # time (before this, a save was tried against some 130 staff routes). No
    # other router serves a path under /take/, so the order changes no match.
    app.include_router(delivery_player.router)
    app.include_router(proctoring_events_api.router)
    app.include_router(capture_api.router)
    app.include_router(proctoring_live_candidate.router)
    app.include_router(proctoring_face_check.router)
    app.include_router(delivery_landing.router)
    app.include_router(results_result_page.router)
    app.include_router(retention_portal_pages.router)
    app.include_router(certification_verify_pages.router)
    app.include_router(identity_api.router)
    app.include_router(tenants_api.router)
    app.include_router(identity_sso_api.router)
    app.include_router(lti_api.router)
    app.include_router(lti_launch_pages.router)
    app.include_router(lti_pages.router)
    app.include_router(lti_registration_pages.router)
    app.include_router(audit_api.router)
    app.include_router(content_api.router)
    app.include_router(content_images_api.router)
    app.include_router(evidence_api.router)
    app.include_router(bundle_api.router)
    app.include_router(delivery_api.router)
    app.include_router(delivery_attempts_api.router)
    app.include_router(proctoring_api.router)
    app.include_router(proctoring_review_api.router)
    app.include_router(proctoring_live_api.router)
    app.include_router(results_grading_api.router)
    app.include_router(results_suggestions_api.router)
    app.include_router(results_release_api.router)
    app.include_router(results_analytics_api.router)
    app.include_router(results_listing_api.router)
    app.include_router(shortlists_api.router)
    app.include_router(certification_coverage_api.router)
    app.include_router(certification_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(ai_api.router)
    app.include_router(ledger_api.router)
    app.include_router(privacy_requests_api.router)
    app.include_router(ledger_operator_api.router)
    app.include_router(retention_api.router)
    app.include_router(results_compare.api)
    app.include_router(identity_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(bundle_pages.router)
    app.include_router(content_pages.router)
    app.include_router(delivery_pages.router)
    app.include_router(delivery_attempt_pages.router)
    app.include_router(proctoring_review_pages.router)
    app.include_router(proctoring_live_pages.router)
    app.include_router(results_suggestion_pages.router)
    app.include_router(results_grading_pages.router)
    app.include_router(results_release_pages.router)
    app.include_router(results_analytics_pages.router)
    app.include_router(results_pages.router)
    app.include_router(results_listing_pages.router)
    app.include_router(shortlists_pages.router)
    app.include_router(certification_certificate_pages.router)
    app.include_router(certification_coverage_pages.router)
    app.include_router(certification_credentials.router)
    app.include_router(certification_pages.router)
    app.include_router(certification_recert_pages.router)
    app.include_router(webhooks_pages.router)
    app.include_router(ai_pages.router)
    app.include_router(ledger_pages.router)
    app.include_router(retention_pages.router)
    app.include_router(privacy_requests_pages.router)
    app.include_router(results_compare.router)
    app.include_router(retention_trust_pages.router)
    app.include_router(metrics_web.router)
    app.include_router(home.router)
    app.include_router(pages.router)
    # The document's error answers, from what each route declares (web/contract.py).
    install_contract(app)
    # The player's script and styles: served by Invigil itself, never a CDN.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name, (package, folders) in VENDOR.items():
        for folder in folders:
            path = NODE_MODULES / package / folder
            if path.is_dir():
                app.mount(f"/vendor/{name}/{folder}", StaticFiles(directory=path))
    return app
