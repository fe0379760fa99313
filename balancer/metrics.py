"""Prometheus metrics, read from plain counters at scrape time.

The proxy only increments ints on its hot path; this collector turns them into metric
families when ``/metrics`` is scraped, so serving requests never touches prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from balancer.backends import DURATION_BUCKETS, BackendState

if TYPE_CHECKING:
    from balancer.context import ProxyContext

PREFIX = "authscale_balancer_"
STATES = tuple(BackendState)


class BalancerCollector:
    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        ctx = self.ctx
        backends = list(ctx.backends.backends.values())
        labels = ["backend", "url"]

        requests = CounterMetricFamily(
            PREFIX + "backend_requests", "Requests sent to each backend", labels=labels
        )
        responses = CounterMetricFamily(
            PREFIX + "backend_responses",
            "Responses from each backend by status class",
            labels=[*labels, "code"],
        )
        failures = CounterMetricFamily(
            PREFIX + "backend_failures",
            "Connect failures, resets, timeouts and 5xx per backend",
            labels=labels,
        )
        active = GaugeMetricFamily(
            PREFIX + "backend_active_requests", "Requests in flight per backend", labels=labels
        )
        queued = GaugeMetricFamily(
            PREFIX + "backend_queued_requests", "Requests waiting for a slot", labels=labels
        )
        connections = GaugeMetricFamily(
            PREFIX + "backend_connections",
            "Open upstream connections",
            labels=[*labels, "state"],
        )
        up = GaugeMetricFamily(
            PREFIX + "backend_up", "1 when the backend takes new requests", labels=labels
        )
        state = GaugeMetricFamily(
            PREFIX + "backend_state",
            "Backend state (1 for the current one)",
            labels=[*labels, "state"],
        )
        check_latency = GaugeMetricFamily(
            PREFIX + "backend_check_latency_seconds",
            "Latency of the last active health check",
            labels=labels,
        )
        duration = HistogramMetricFamily(
            PREFIX + "backend_request_duration_seconds",
            "Time from request head to the end of the response, per backend",
            labels=labels,
        )
        for backend in backends:
            values = [backend.id, backend.url]
            requests.add_metric(values, backend.total)
            for index in range(1, 6):
                responses.add_metric([*values, f"{index}xx"], backend.statuses[index])
            failures.add_metric(values, backend.failures)
            active.add_metric(values, backend.active)
            home = ctx.pool.peek(backend)
            queued.add_metric(values, len(home.waiters))
            idle = len(home.idle)
            connections.add_metric([*values, "idle"], idle)
            connections.add_metric([*values, "busy"], max(home.open - idle, 0))
            up.add_metric(values, 1 if backend.available else 0)
            current = backend.state
            for name in STATES:
                state.add_metric([*values, name], 1 if name == current else 0)
            if backend.last_check is not None:
                check_latency.add_metric(values, backend.last_check.latency)
            cumulative = 0
            buckets = []
            for bound, count in zip(
                (*map(str, DURATION_BUCKETS), "+Inf"), backend.duration_counts, strict=True
            ):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            duration.add_metric(values, buckets, backend.duration_sum)
        yield from (requests, responses, failures, active, queued, connections, up, state)
        yield from (check_latency, duration)

        yield GaugeMetricFamily(PREFIX + "backends", "Configured backends", value=len(backends))
        yield GaugeMetricFamily(
            PREFIX + "backends_available",
            "Backends taking new requests",
            value=len(ctx.backends.available),
        )
        yield GaugeMetricFamily(
            PREFIX + "requests_in_flight", "Requests being served now", value=ctx.in_flight
        )
        yield GaugeMetricFamily(
            PREFIX + "client_connections_open", "Open client connections", value=len(ctx.clients)
        )
        yield CounterMetricFamily(
            PREFIX + "client_connections_accepted",
            "Accepted client connections",
            value=ctx.connections_total,
        )
        yield CounterMetricFamily(
            PREFIX + "retries", "Requests sent again to another backend", value=ctx.retries_total
        )
        errors = CounterMetricFamily(
            PREFIX + "errors", "Error responses made by the balancer", labels=["code"]
        )
        for code, count in sorted(ctx.error_counts().items()):
            errors.add_metric([code], count)
        yield errors


def make_registry(ctx: ProxyContext) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BalancerCollector(ctx))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
