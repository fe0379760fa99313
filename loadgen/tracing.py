"""Optional OpenTelemetry tracing: one trace per iteration, exported over OTLP/HTTP.

Only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set *and* the ``otel`` extra is installed;
otherwise :func:`from_environment` returns None, the plain :class:`AuthScenario` runs and
nothing is imported. Each iteration is a root span (``iteration``) with a client span per
request (``POST /auth/<step>``) whose context goes out as the W3C ``traceparent``, so the
balancer's and the service's spans of all four steps join the iteration's trace. The SDK
reads its usual ``OTEL_*`` settings; the global tracer provider is left alone.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import aiohttp

from loadgen.config import LoadConfig
from loadgen.scenario import VU, AuthScenario
from loadgen.stats import Recorder

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
SERVICE_NAME = "authscale-loadgen"


def from_environment(environ: Mapping[str, str]) -> IterationTracer | None:
    if not environ.get(ENDPOINT_VARIABLE):
        return None
    if not _installed():
        return None
    return IterationTracer()


def _installed() -> bool:
    """Whether the ``otel`` extra is there (found without importing it)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _PACKAGES)
    except ModuleNotFoundError:  # a parent package is missing
        return False


class IterationTracer:
    """The tracer provider of one generator process."""

    def __init__(self) -> None:
        # Imported here so that a generator without the extra never loads them.
        from opentelemetry.context import Context
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, use_span

        self._provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self._provider.get_tracer("authscale.loadgen")
        self.client = SpanKind.CLIENT
        self.use_span = use_span
        self.no_parent: Any = Context()

    def scenario(
        self, session: aiohttp.ClientSession, config: LoadConfig, recorder: Recorder
    ) -> AuthScenario:
        return TracedAuthScenario(session, config, recorder, self)

    def shutdown(self) -> None:
        """Export what is left (blocking: call it off the event loop)."""
        self._provider.shutdown()


class TracedAuthScenario(AuthScenario):
    """The auth scenario with a trace per iteration and a span per request."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: LoadConfig,
        recorder: Recorder,
        tracing: IterationTracer,
    ) -> None:
        super().__init__(session, config, recorder)
        self._tracing = tracing

    async def run_iteration(self, vu: VU, t_intended: int = 0) -> bool:
        # A new root each time: the VU's task context holds no span between iterations.
        tracing = self._tracing
        span = tracing.tracer.start_span("iteration", context=tracing.no_parent)
        span.set_attribute("loadgen.vu", vu.id)
        span.set_attribute("loadgen.iteration", vu.iterations + 1)
        with tracing.use_span(span, end_on_exit=True):
            ok = await super().run_iteration(vu, t_intended)
            span.set_attribute("loadgen.ok", ok)
            return ok

    async def _request(
        self, vu: VU, step: str, body: bytes, headers: Mapping[str, str], intended: int
    ) -> tuple[int, bytes, int]:
        tracing = self._tracing
        span = tracing.tracer.start_span(f"POST /auth/{step}", kind=tracing.client)
        context = span.get_span_context()
        traced = {
            **headers,
            "traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-"
            f"{int(context.trace_flags):02x}",
        }
        try:
            status, payload, intended = await super()._request(vu, step, body, traced, intended)
            span.set_attribute("http.response.status_code", status)
        finally:
            span.end()
        return status, payload, intended
