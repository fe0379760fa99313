"""Prometheus metrics, in a registry owned by one app (no global state).

authscale_http_requests_total{route,method,status}   counter
authscale_http_request_duration_seconds{route}       histogram
authscale_bcrypt_in_flight                           gauge
authscale_bcrypt_duration_seconds{operation}         histogram (hash | verify)
authscale_logins_total{result}                       counter (ok | invalid_credentials | throttled)
authscale_signups_total{result}                      counter (ok | <error code>)
authscale_refresh_reuse_total                        counter (rotated refresh token presented again)
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
BCRYPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "authscale_http_requests",
            "HTTP requests served, by route template, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "authscale_http_request_duration_seconds",
            "Time from request received to response written, by route template",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bcrypt_in_flight = Gauge(
            "authscale_bcrypt_in_flight",
            "bcrypt hashes or verifications running in the thread pool",
            registry=self.registry,
        )
        self.bcrypt_duration = Histogram(
            "authscale_bcrypt_duration_seconds",
            "Wall time of one bcrypt hash or verification in the thread pool",
            ("operation",),
            buckets=BCRYPT_BUCKETS,
            registry=self.registry,
        )
        self.logins = Counter(
            "authscale_logins",
            "Login attempts by result",
            ("result",),
            registry=self.registry,
        )
        self.signups = Counter(
            "authscale_signups",
            "Signup attempts by result",
            ("result",),
            registry=self.registry,
        )
        self.refresh_reuse = Counter(
            "authscale_refresh_reuse",
            "Rotated refresh tokens presented again (the session was revoked)",
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def bcrypt_started(self) -> None:
        self.bcrypt_in_flight.inc()

    def bcrypt_finished(self, operation: str, seconds: float) -> None:
        self.bcrypt_in_flight.dec()
        self.bcrypt_duration.labels(operation).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
