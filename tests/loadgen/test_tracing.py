"""Optional OpenTelemetry tracing, end to end: loadgen → balancer → service, spans over
OTLP/HTTP to a receiver in the test; and nothing changes without the variable or the extra."""

from __future__ import annotations

import asyncio
import gzip
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from balancer import tracing as balancer_tracing
from lab.topology import LOOPBACK_CIDRS, Topology, TopologyConfig
from loadgen import tracing as loadgen_tracing
from loadgen.config import LoadConfig
from loadgen.runner import run_load
from service import tracing as service_tracing

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: ``POST /v1/traces`` with a protobuf export request."""

    spans: list[Span] = field(default_factory=list)
    url: str = ""

    async def export(self, request: web.Request) -> web.Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        Span(
                            service=attributes.get("service.name", ""),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                        )
                    )
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    pytest.importorskip("opentelemetry.proto")
    found = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", found.export)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}"
    try:
        yield found
    finally:
        await runner.cleanup()


@pytest.fixture
def traced_stack(
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    redis_url: str,
) -> Iterator[Topology]:
    """Service and balancer processes (and this process's loadgen) export to ``receiver``."""
    monkeypatch.setenv(ENDPOINT, receiver.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    topology = Topology(
        TopologyConfig(
            instances=1,
            balancer=True,
            database_url=database_url,
            redis_url=redis_url,
            run_dir=tmp_path_factory.mktemp("traced-stack"),
            bcrypt_rounds=4,
            health_interval="0.5",
            limit_exempt=LOOPBACK_CIDRS,
        )
    )
    try:
        yield topology
    finally:
        topology.stop()


@pytest.mark.integration
async def test_the_four_steps_of_an_iteration_share_one_trace_through_the_balancer(
    traced_stack: Topology, receiver: Receiver
) -> None:
    await asyncio.to_thread(traced_stack.start)
    result = await run_load(LoadConfig(target=traced_stack.entry_url, vus=2, duration_s=1.0))
    assert result.recorder.iterations_failed == 0
    iterations = result.recorder.iterations
    assert iterations >= 2
    # The servers export their last spans when they exit.
    await asyncio.to_thread(traced_stack.stop)
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in receiver.spans:
        by_trace[span.trace_id].append(span)
    roots = [
        s for s in receiver.spans if s.service == "authscale-loadgen" and s.name == "iteration"
    ]
    assert len(roots) == iterations
    for root in roots:
        trace = by_trace[root.trace_id]
        assert root.parent_id == ""
        clients = [s for s in trace if s.service == "authscale-loadgen" and s is not root]
        proxies = [s for s in trace if s.service == "authscale-balancer"]
        handlers = [s for s in trace if s.service == "authscale-service"]
        assert sorted(s.name for s in clients) == [
            "POST /auth/login",
            "POST /auth/logout",
            "POST /auth/refresh",
            "POST /auth/signup",
        ]
        assert all(s.parent_id == root.span_id for s in clients)
        assert len(proxies) == len(handlers) == 4
        assert {s.parent_id for s in proxies} == {s.span_id for s in clients}
        assert {s.parent_id for s in handlers} == {s.span_id for s in proxies}
        assert sorted(s.name for s in handlers) == [
            "POST /auth/login",
            "POST /auth/logout",
            "POST /auth/refresh",
            "POST /auth/signup",
        ]


def test_without_the_variable_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENDPOINT, raising=False)
    assert loadgen_tracing.from_environment({}) is None
    assert balancer_tracing.from_environment({}) is None
    assert not service_tracing.available({})
    assert loadgen_tracing.from_environment({ENDPOINT: ""}) is None


def test_without_the_extra_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes the import system treat a module as absent, even one already
    # imported by another test.
    for name in [name for name in sys.modules if name.startswith("opentelemetry.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    environ = {ENDPOINT: "http://127.0.0.1:4318"}
    assert loadgen_tracing.from_environment(environ) is None
    assert balancer_tracing.from_environment(environ) is None
    assert not service_tracing.available(environ)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            b"POST /auth/login HTTP/1.1\r\nhost: x\r\n\r\n",
            b"POST /auth/login HTTP/1.1\r\nhost: x\r\ntraceparent: TP\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\ntraceparent: 00-old-01\r\nhost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\ntraceparent: TP\r\nhost: x\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nhost: x\r\ntraceparent: 00-old-01\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\ntraceparent: TP\r\n\r\n",
        ),
    ],
)
def test_the_balancer_replaces_or_adds_traceparent(head: bytes, expected: bytes) -> None:
    assert balancer_tracing.with_traceparent(head, b"TP") == expected
