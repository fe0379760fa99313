"""Optional OpenTelemetry tracing: one trace per iteration, exported over OTLP/HTTP.

Only when the configuration names an endpoint (``otlp_endpoint``, from
``OTEL_EXPORTER_OTLP_ENDPOINT``) *and* the ``otel`` extra is installed (see
:mod:`authscale.otel`); otherwise :func:`from_config` returns None, the plain
:class:`AuthScenario` runs and nothing is imported. Each iteration is a root span
(``iteration``) with a client span per request (``POST /auth/<step>``) whose context goes
out as the W3C ``traceparent``, so the balancer's and the service's spans of all four steps
join the iteration's trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from authscale import otel
from loadgen.config import LoadConfig
from loadgen.scenario import VU, AuthScenario
from loadgen.stats import Recorder

SERVICE_NAME = "authscale-loadgen"


def from_config(config: LoadConfig) -> IterationTracer | None:
    """The process's tracer when ``config`` names an endpoint and the extra is there."""
    if not config.otlp_endpoint or not otel.installed():
        return None
    return IterationTracer(config.otlp_endpoint)


class IterationTracer:
    """The tracer provider of one generator process."""

    def __init__(self, endpoint: str) -> None:
        # Imported here so that a generator without the extra never loads them.
        from opentelemetry.context import Context
        from opentelemetry.trace import SpanKind, use_span

        self._provider = otel.tracer_provider(endpoint, SERVICE_NAME)
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
