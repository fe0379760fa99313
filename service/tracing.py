"""Optional OpenTelemetry tracing: a server span per request, exported over OTLP/HTTP.

Only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set *and* the ``otel`` extra is installed
(opentelemetry-api, -sdk, -exporter-otlp-proto-http); otherwise :func:`install` does
nothing and nothing is imported. The span continues the trace of the request's W3C
``traceparent`` (the balancer's span, or the load generator's), is named after the route
template, and carries the status and the Server-Timing phases (``authscale.phase.<name>``
in milliseconds). The SDK reads its usual ``OTEL_*`` settings (batch delay, headers…) and
flushes at exit; the global tracer provider is left alone.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse

from service import timing

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
SERVICE_NAME = "authscale-service"


def available(environ: Mapping[str, str]) -> bool:
    """Whether tracing is asked for and the packages are there."""
    return bool(environ.get(ENDPOINT_VARIABLE)) and _installed()


def install(app: Sanic, environ: Mapping[str, str], *, instance: str) -> bool:  # type: ignore[type-arg]
    """Trace every request of ``app`` when :func:`available`; True when it does."""
    if not available(environ):
        return False
    tracer = RequestTracer(instance=instance)
    app.register_middleware(tracer.on_request, "request")
    # Response middleware runs in reverse order of registration: this one runs before the
    # app's own, while the request's phases are still attached.
    app.register_middleware(tracer.on_response, "response")
    return True


def _installed() -> bool:
    """Whether the ``otel`` extra is there (found without importing it)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _PACKAGES)
    except ModuleNotFoundError:  # a parent package is missing
        return False


class RequestTracer:
    """Starts a server span in the request middleware and ends it with the response."""

    def __init__(self, *, instance: str) -> None:
        # Imported here so that a service without the extra never loads them.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        resource = Resource.create(
            {"service.name": SERVICE_NAME, "service.instance.id": instance or "service"}
        )
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("authscale.service")
        self._propagator = TraceContextTextMapPropagator()
        self._server = SpanKind.SERVER

    async def on_request(self, request: Request) -> None:
        parent = self._propagator.extract(request.headers)
        route = request.route
        name = f"{request.method} {'/' + route.path if route is not None else 'unmatched'}"
        request.ctx.otel_span = self._tracer.start_span(name, context=parent, kind=self._server)

    async def on_response(self, request: Request, response: BaseHTTPResponse) -> None:
        span: Any = getattr(request.ctx, "otel_span", None)
        if span is None:
            return
        request.ctx.otel_span = None
        span.set_attribute("http.request.method", request.method)
        span.set_attribute("http.response.status_code", response.status)
        recorder = timing.current()
        if recorder is not None:
            for phase, seconds in recorder.phases():
                span.set_attribute(f"authscale.phase.{timing.PHASE_NAMES[phase]}", seconds * 1e3)
        span.end()

    def shutdown(self) -> None:
        self._provider.shutdown()
