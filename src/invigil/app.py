"""The FastAPI application: routers, problem+json errors, health."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from invigil import __version__
from invigil import health as health_checks
from invigil.admission import Admission
from invigil.audit import api as audit_api
from invigil.audit import pages as audit_pages
from invigil.content import api as content_api
from invigil.content import images_api as content_images_api
from invigil.content import pages as content_pages
from invigil.context import Services
from invigil.db.engine import Database
from invigil.delivery import api as delivery_api
from invigil.delivery import attempt_pages as delivery_attempt_pages
from invigil.delivery import attempts_api as delivery_attempts_api
from invigil.delivery import landing as delivery_landing
from invigil.delivery import pages as delivery_pages
from invigil.delivery import player as delivery_player
from invigil.errors import PROBLEM_MEDIA_TYPE, DomainError, Invalid, problem
from invigil.evidence import api as evidence_api
from invigil.evidence import candidate_api as evidence_candidate_api
from invigil.identity import api as identity_api
from invigil.identity import pages as identity_pages
from invigil.logs import configure as configure_logs
from invigil.logs import get_logger
from invigil.proctoring import api as proctoring_api
from invigil.proctoring import review_api as proctoring_review_api
from invigil.proctoring import review_pages as proctoring_review_pages
from invigil.security.access import Public
from invigil.security.inputs import checked_request
from invigil.settings import Settings, get_settings
from invigil.web import pages

log = get_logger(__name__)

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
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
_PROGRAM_PATH = re.compile(r"^/api/|^/take/[^/]+/api/")
STATIC = Path(__file__).parent / "web" / "static"
# npm packages the player serves (installed by `make`, never fetched from a CDN).
NODE_MODULES = Path(
    os.environ.get("INVIGIL_NODE_MODULES") or Path(__file__).resolve().parents[2] / "node_modules"
)
VENDOR = {"face-api": ("@vladmandic/face-api", ("dist", "model"))}


def for_programs(path: str) -> bool:
    return _PROGRAM_PATH.match(path) is not None


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if not for_programs(request.url.path):
            return pages.error_page(request, exc)  # people get pages, programs get problems
        return problem_response(exc.status, exc.problem(request.url.path), exc.headers())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else "the request failed"
        if status == 404 and detail == "Not Found":
            detail = f"nothing is served at {request.url.path}"
        body = problem(status, _SLUGS.get(status, "http-error"), detail, request.url.path)
        return problem_response(status, body, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(".".join(e["location"]) for e in errors)
        if not for_programs(request.url.path):
            return pages.error_page(request, Invalid(f"the form or link is not valid ({fields})"))
        body = problem(
            422, "invalid", f"the request is not valid: {fields}", request.url.path, errors=errors
        )
        return problem_response(422, body)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.failed", path=request.url.path)
        body = problem(
            500, "internal", "an unexpected error occurred; it has been logged", request.url.path
        )
        return problem_response(500, body)


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


def create_app(
    settings: Settings | None = None,
    db: Database | None = None,
    *,
    run_jobs: bool | None = None,
    settle_heap: bool | None = None,
) -> FastAPI:
    """Build the app. With no ``db``, open one from the settings (used by
    ``uvicorn --factory`` worker processes). ``settle_heap`` (default: in
    such a worker) freezes what the process holds once started, see
    :func:`_settle_heap`; ``invigil serve`` asks for it, tests do not."""
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
            app.state.db = open_database(settings, migrate=False)
        worker = None
        if run_jobs:
            from invigil.jobs.queue import InProcessWorker, make_app

            worker = InProcessWorker(make_app(app.state.db.urls), app.state.db, app.state.services)
            worker.start()
        if settle_heap:
            _settle_heap()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if own_db:
                app.state.db.dispose()

    app = FastAPI(
        title="Invigil",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
        # Before authentication and any lookup: no parameter, form field or
        # JSON body holds what the database cannot store (a 422 naming it).
        dependencies=[Depends(checked_request)],
    )
    app.state.settings = settings
    app.state.db = db
    # Fewer requests inside than pooled connections (see invigil.admission):
    # the overflow connections stay free for jobs and nested lookups.
    pooled = db.engine.pool.size() if db is not None else settings.db_pool_size  # type: ignore[attr-defined]
    app.add_middleware(Admission, limit=max(1, pooled))
    app.state.services = Services.build(settings)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["health"], dependencies=[Public])
    def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], dependencies=[Public])
    def readyz(request: Request) -> JSONResponse:
        """The database answers at the expected schema and the object store is writable."""
        report = health_checks.readiness(request.app.state.db, settings)
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

    @app.get("/.well-known/jwks.json", tags=["health"], dependencies=[Public])
    def jwks(request: Request) -> JSONResponse:
        """Public keys: access tokens and audit checkpoints (each key names its purpose)."""
        return JSONResponse(
            request.app.state.services.keys.jwks(), headers={"Cache-Control": "public, max-age=300"}
        )

    # The candidate's routes first: during an exam they carry nearly every
    # request, and routes are matched in order, one regular expression at a
    # time (before this, a save was tried against some 130 staff routes). No
    # other router serves a path under /take/, so the order changes no match.
    app.include_router(delivery_player.router)
    app.include_router(evidence_candidate_api.router)
    app.include_router(delivery_landing.router)
    app.include_router(identity_api.router)
    app.include_router(audit_api.router)
    app.include_router(content_api.router)
    app.include_router(content_images_api.router)
    app.include_router(evidence_api.router)
    app.include_router(delivery_api.router)
    app.include_router(delivery_attempts_api.router)
    app.include_router(proctoring_api.router)
    app.include_router(proctoring_review_api.router)
    app.include_router(identity_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(content_pages.router)
    app.include_router(delivery_pages.router)
    app.include_router(delivery_attempt_pages.router)
    app.include_router(proctoring_review_pages.router)
    app.include_router(pages.router)
    # The player's script and styles: served by Invigil itself, never a CDN.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name, (package, folders) in VENDOR.items():
        for folder in folders:
            path = NODE_MODULES / package / folder
            if path.is_dir():
                app.mount(f"/vendor/{name}/{folder}", StaticFiles(directory=path))
    return app
