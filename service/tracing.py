"""Optional OpenTelemetry tracing: a server span per request, exported over OTLP/HTTP.

Only when the configuration names an endpoint (``otlp_endpoint``, from
``OTEL_EXPORTER_OTLP_ENDPOINT``) *and* the ``otel`` extra is installed (see
:mod:`authscale.otel`); otherwise :func:`install` does nothing and nothing is imported. The
span continues the trace of the request's W3C ``traceparent`` (the balancer's span, or the
load generator's), is named after the route template, and carries the status and the
Server-Timing phases (``authscale.phase.<name>`` in milliseconds) when they are recorded.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse

from authscale import otel
from service import timing

SERVICE_NAME = "authscale-service"


def available(endpoint: str | None) -> bool:
    """Whether tracing is asked for and the packages are there."""
    return bool(endpoint) and otel.installed()


def install(app: Sanic, endpoint: str | None, *, instance: str) -> bool:  # type: ignore[type-arg]
    """Trace every request of ``app`` when :func:`available`; True when it does."""
    if endpoint is None or not available(endpoint):
        return False
    tracer = RequestTracer(endpoint, instance=instance)
    app.register_middleware(tracer.on_request, "request")
    # Response middleware runs in reverse order of registration: this one runs before the
    # app's own, while the request's phases are still attached.
    app.register_middleware(tracer.on_response, "response")
    return True


class RequestTracer:
    """Starts a server span in the request middleware and ends it with the response."""

    def __init__(self, endpoint: str, *, instance: str) -> None:
        # Imported here so that a service without the extra never loads them.
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._provider = otel.tracer_provider(
            endpoint, SERVICE_NAME, instance=instance or "service"
        )
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
