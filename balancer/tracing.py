"""Optional OpenTelemetry tracing: a span per proxied request, exported over OTLP/HTTP.

Only when the configuration names an endpoint (``otlp_endpoint``, from
``OTEL_EXPORTER_OTLP_ENDPOINT``) *and* the ``otel`` extra is installed (see
:mod:`authscale.otel`); otherwise :func:`from_config` returns None, the proxy's hooks are
skipped and nothing is imported. The span continues the client's W3C ``traceparent`` and
replaces it in the request sent upstream, so the backend's span becomes its child.

An exchange carries its own span (its ``span`` attribute) from :meth:`ExchangeTracer.begin`
to :meth:`ExchangeTracer.end`, so a span lives exactly as long as its exchange: none is left
behind in a table by an exchange that never finished, and none can be ended by another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from authscale import otel

if TYPE_CHECKING:
    from balancer.config import BalancerConfig
    from balancer.http11 import RequestHead

SERVICE_NAME = "authscale-balancer"
_FIELD = b"traceparent"


class Traced(Protocol):
    """What the tracer needs of an exchange: a place for its span (None when it has none)."""

    span: Any


def from_config(config: BalancerConfig) -> ExchangeTracer | None:
    """The balancer's tracer when ``config`` names an endpoint and the extra is there."""
    if not config.otlp_endpoint or not otel.installed():
        return None
    return ExchangeTracer(config.otlp_endpoint)


def with_traceparent(head: bytes, traceparent: bytes) -> bytes:
    """``head`` (an HTTP/1.1 request head) with ours as its only ``traceparent`` field.

    Every incoming one goes, however it is spelt: a backend seeing two would pick either.
    """
    lines = head.split(b"\r\n")[:-2]  # the head ends with an empty line
    kept = [lines[0]]
    for line in lines[1:]:
        if line.partition(b":")[0].strip().lower() != _FIELD:
            kept.append(line)
    kept += (_FIELD + b": " + traceparent, b"", b"")
    return b"\r\n".join(kept)


class ExchangeTracer:
    """``begin`` when the upstream head is built, ``end`` when the exchange finishes."""

    def __init__(self, endpoint: str) -> None:
        # Imported here so that a balancer without the extra never loads them.
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._provider = otel.tracer_provider(endpoint, SERVICE_NAME)
        self._tracer = self._provider.get_tracer("authscale.balancer")
        self._propagator = TraceContextTextMapPropagator()
        self._kind = SpanKind.SERVER

    def begin(self, exchange: Traced, head: RequestHead, upstream_head: bytes) -> bytes:
        """Start the exchange's span; the upstream head to send, carrying its context."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in head.headers
            if name in (b"traceparent", b"tracestate")
        }
        parent = self._propagator.extract(carrier)
        method = head.method.decode("latin-1")
        span = self._tracer.start_span(f"proxy {method}", context=parent, kind=self._kind)
        span.set_attribute("http.request.method", method)
        span.set_attribute("url.path", head.target.decode("latin-1").partition("?")[0])
        if exchange.span is not None:  # begun twice: the first span ends rather than leaks
            exchange.span.end()
        exchange.span = span
        context = span.get_span_context()
        traceparent = b"00-%032x-%016x-%02x" % (
            context.trace_id,
            context.span_id,
            int(context.trace_flags),
        )
        return with_traceparent(upstream_head, traceparent)

    def end(self, exchange: Traced, status: int) -> None:
        span = exchange.span
        if span is not None:
            exchange.span = None
            span.set_attribute("http.response.status_code", status)
            span.end()

    def shutdown(self) -> None:
        self._provider.shutdown()
