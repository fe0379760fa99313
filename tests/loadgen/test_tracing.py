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

from authscale import otel
from balancer import tracing as balancer_tracing
from balancer.config import BalancerConfig, load_config
from balancer.http11 import RequestHead
from lab.harness.topology import LOOPBACK_CIDRS, Topology, TopologyConfig
from loadgen import tracing as loadgen_tracing
from loadgen.config import LoadConfig, config_from_args
from loadgen.runner import run_load
from service import tracing as service_tracing
from service.environment import settings_from_env

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
    # Port 0 asks the kernel for a free one; the runner reports which it chose.
    port: int = runner.addresses[0][1]
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
    config = LoadConfig(
        target=traced_stack.entry_url, vus=2, duration_s=1.0, otlp_endpoint=receiver.url
    )
    result = await run_load(config)
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


def test_each_program_s_config_reads_the_endpoint() -> None:
    environ = {ENDPOINT: "http://127.0.0.1:4318"}
    assert settings_from_env(environ)["otlp_endpoint"] == "http://127.0.0.1:4318"
    assert "otlp_endpoint" not in settings_from_env({ENDPOINT: ""})
    assert load_config([], environ).otlp_endpoint == "http://127.0.0.1:4318"
    assert load_config([], {}).otlp_endpoint is None
    loadgen = config_from_args(["--target", "http://127.0.0.1:9"], environ)
    assert loadgen.otlp_endpoint == "http://127.0.0.1:4318"
    assert config_from_args(["--target", "http://127.0.0.1:9"], {}).otlp_endpoint is None


def test_the_traces_url_is_under_the_base_endpoint() -> None:
    assert otel.traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert otel.traces_url("http://collector/otlp/") == "http://collector/otlp/v1/traces"


def test_without_the_endpoint_nothing_is_traced() -> None:
    assert loadgen_tracing.from_config(LoadConfig(target="http://127.0.0.1:9")) is None
    assert balancer_tracing.from_config(BalancerConfig()) is None
    assert not service_tracing.available(None)
    assert not service_tracing.available("")


def test_without_the_extra_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes the import system treat a module as absent, even one already
    # imported by another test.
    for name in [name for name in sys.modules if name.startswith("opentelemetry.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    endpoint = "http://127.0.0.1:4318"
    config = LoadConfig(target="http://127.0.0.1:9", otlp_endpoint=endpoint)
    assert loadgen_tracing.from_config(config) is None
    assert balancer_tracing.from_config(BalancerConfig(otlp_endpoint=endpoint)) is None
    assert not service_tracing.available(endpoint)


class FakeExchange:
    """The one attribute the balancer's tracer uses."""

    def __init__(self) -> None:
        self.span: object = None


async def test_the_balancer_s_span_lives_on_its_exchange(receiver: Receiver) -> None:
    tracer = balancer_tracing.ExchangeTracer(receiver.url)
    head = RequestHead(
        b"POST",
        b"/auth/login?x=1",
        "1.1",
        [(b"host", b"x")],
        keep_alive=True,
        chunked=False,
        content_length=None,
        expect_continue=False,
    )
    first, second = FakeExchange(), FakeExchange()
    tracer.begin(first, head, b"POST /auth/login HTTP/1.1\r\nhost: x\r\n\r\n")
    assert first.span is not None
    assert second.span is None
    tracer.end(second, 200)  # an exchange that was never begun ends nobody's span
    assert first.span is not None
    tracer.end(first, 201)
    assert first.span is None
    tracer.end(first, 500)  # a second end is a no-op
    await asyncio.to_thread(tracer.shutdown)
    assert [span.name for span in receiver.spans] == ["proxy POST"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            b"POST /auth/login HTTP/1.1\r\nhost: x\r\n\r\n",
            b"POST /auth/login HTTP/1.1\r\nhost: x\r\ntraceparent: TP\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\ntraceparent: 00-old-01\r\nhost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\ntraceparent: TP\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nhost: x\r\ntraceparent: 00-old-01\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\ntraceparent: TP\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\ntraceparent: 00-a-01\r\nhost: x\r\n"
            b"Traceparent:00-b-01\r\ntracestate: k=v\r\n\r\n",
            b"GET / HTTP/1.1\r\nhost: x\r\ntracestate: k=v\r\ntraceparent: TP\r\n\r\n",
        ),
    ],
)
def test_the_balancer_replaces_or_adds_traceparent(head: bytes, expected: bytes) -> None:
    assert balancer_tracing.with_traceparent(head, b"TP") == expected
