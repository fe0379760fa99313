"""Optional OpenTelemetry tracing: a span per proxied request, exported over OTLP/HTTP.

Only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set *and* the ``otel`` extra is installed;
otherwise :func:`from_environment` returns None, the proxy's hooks are skipped and nothing
is imported. The span continues the client's W3C ``traceparent`` and replaces it in the
request sent upstream, so the backend's span becomes its child. The SDK reads its usual
``OTEL_*`` settings and flushes at exit; the global tracer provider is left alone.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from balancer.http11 import RequestHead

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
SERVICE_NAME = "authscale-balancer"
_OPEN_LIMIT = 100_000  # spans of exchanges that never finished are dropped beyond this


def from_environment(environ: Mapping[str, str]) -> ExchangeTracer | None:
    if not environ.get(ENDPOINT_VARIABLE):
        return None
    if not _installed():
        return None
    return ExchangeTracer()


def with_traceparent(head: bytes, traceparent: bytes) -> bytes:
    """``head`` (an HTTP/1.1 request head) with its ``traceparent`` field set to ours."""
    field = b"traceparent: " + traceparent + b"\r\n"
    start = head.find(b"\r\ntraceparent: ")
    if start >= 0:
        end = head.index(b"\r\n", start + 2)
        return head[: start + 2] + field + head[end + 2 :]
    return head[:-2] + field + b"\r\n"


def _installed() -> bool:
    """Whether the ``otel`` extra is there (found without importing it)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _PACKAGES)
    except ModuleNotFoundError:  # a parent package is missing
        return False


class ExchangeTracer:
    """``begin`` when the upstream head is built, ``end`` when the exchange finishes."""

    def __init__(self) -> None:
        # Imported here so that a balancer without the extra never loads them.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("authscale.balancer")
        self._propagator = TraceContextTextMapPropagator()
        self._kind = SpanKind.SERVER
        self._open: dict[int, Any] = {}

    def begin(self, exchange: object, head: RequestHead, upstream_head: bytes) -> bytes:
        """Start the exchange's span; the upstream head to send, carrying its context."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in head.headers
            if name in (b"traceparent", b"tracestate")
        }
        parent = self._propagator.extract(carrier)
        span = self._tracer.start_span(
            f"proxy {head.method.decode('latin-1')}", context=parent, kind=self._kind
        )
        span.set_attribute("http.request.method", head.method.decode("latin-1"))
        span.set_attribute("url.path", head.target.decode("latin-1").partition("?")[0])
        if len(self._open) >= _OPEN_LIMIT:
            self._open.pop(next(iter(self._open)))
        self._open[id(exchange)] = span
        context = span.get_span_context()
        traceparent = b"00-%032x-%016x-%02x" % (
            context.trace_id,
            context.span_id,
            int(context.trace_flags),
        )
        return with_traceparent(upstream_head, traceparent)

    def end(self, exchange: object, status: int) -> None:
        span = self._open.pop(id(exchange), None)
        if span is not None:
            span.set_attribute("http.response.status_code", status)
            span.end()

    def shutdown(self) -> None:
        self._provider.shutdown()
