"""OpenTelemetry traces, only when an OTLP endpoint is configured.

Off by default, and then nothing of OpenTelemetry's SDK is imported and
FastAPI's own telemetry is switched off outright (no per-request check of
the global providers). On (``INVIGIL_OTLP_ENDPOINT`` or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``, with the ``tracing`` extra installed):

- FastAPI's native instrumentation makes a span per request, named by its
  route template, with spans for its dependencies and endpoint;
- the app role's SQLAlchemy engine gets a span per statement (the SQL text
  with its placeholders; parameter values are never recorded);
- spans leave in batches over OTLP/HTTP (protobuf) to ``<endpoint>/v1/traces``;
  the exporter's other standard variables (``OTEL_EXPORTER_OTLP_HEADERS``,
  ``OTEL_SERVICE_NAME``, ...) apply as usual.

The metrics scrape, probes and static files make no spans. ADR 0070.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

UNTRACED = ("/metrics", "/healthz", "/readyz", "/static/", "/vendor/")


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return str(scope.get("path", "")).startswith(UNTRACED)


def provider(endpoint: str | None, version: str, exporter: Any = None) -> Any:
    """A tracer provider sending to ``endpoint`` (or to ``exporter``, which
    tests give: spans are then handed over one by one); None when neither."""
    if not endpoint and exporter is None:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "an OTLP endpoint is configured but OpenTelemetry's SDK is not installed: "
            "install invigil[tracing]"
        ) from exc
    attributes = {"service.version": version}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "invigil"
    made = TracerProvider(resource=Resource.create(attributes))
    if exporter is not None:
        made.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        assert endpoint is not None
        made.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    return made


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's traces path under a base endpoint (as the specification
    derives it from ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    return endpoint.rstrip("/") + "/v1/traces"


def fastapi_telemetry(tracer_provider: Any) -> dict[str, Any]:
    """``FastAPI(telemetry=...)``: request spans with ``tracer_provider``,
    or everything off (FastAPI then checks nothing per request)."""
    if tracer_provider is None:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {
        "tracer_provider": tracer_provider,
        "tracing": True,
        "metrics": False,  # Prometheus has them (invigil.metrics)
        "logs": False,  # structlog has them (invigil.logs)
        "auto_configure": False,
        "exclude": _untraced,
    }


def instrument_engine(engine: Any, tracer_provider: Any) -> None:
    """A span per SQL statement on ``engine``, child of the request's span."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    # Its declared range stops below SQLAlchemy 2.1, whose engine events it
    # uses unchanged (the test suite holds the statements traced).
    instrumentor.instrument(engine=engine, tracer_provider=tracer_provider, skip_dep_check=True)


def shutdown(tracer_provider: Any) -> None:
    """Send what is left and stop (the app's shutdown)."""
    if tracer_provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    tracer_provider.shutdown()
