"""Prometheus metrics, in a registry owned by one app (no global state).

authscale_http_requests_total{route,method,status}   counter
authscale_http_request_duration_seconds{route}       histogram
authscale_bcrypt_in_flight                           gauge
authscale_bcrypt_duration_seconds{operation}         histogram (hash | verify)
authscale_logins_total{result}                       counter (ok | invalid_credentials | throttled)
authscale_signups_total{result}                      counter (ok | <error code>)
authscale_refresh_reuse_total                        counter (rotated refresh token presented again)
authscale_phase_duration_seconds{route,phase}        histogram (the Server-Timing phases:
                                                     hash-wait | hash | db | redis | jwt | app)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from service.timing import APP, PHASE_NAMES, PHASES, PhaseRecorder

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
# Postgres, Redis and JWT phases take tens to hundreds of microseconds.
PHASE_BUCKETS = (0.0001, 0.00025, 0.0005, *LATENCY_BUCKETS)
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
        self.phases = PhaseHistogram(
            "authscale_phase_duration_seconds",
            "Time per request in each phase named in Server-Timing, by route template",
            buckets=PHASE_BUCKETS,
        )
        self.registry.register(self.phases)

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


class PhaseHistogram(Collector):
    """A histogram by route and phase whose observations cost a bisect and two additions.

    prometheus_client's ``Histogram`` takes a lock and searches its buckets one by one on
    each observation, several microseconds for the five or six phases of one request. The
    phases are only observed on the event loop, so plain lists suffice; they are turned
    into the usual ``_bucket``/``_count``/``_sum`` series when the registry is scraped.
    """

    def __init__(self, name: str, documentation: str, *, buckets: tuple[float, ...]) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = buckets
        self._width = len(buckets) + 1  # the last slot counts values above every bound
        self._labels = (*PHASE_NAMES, APP)
        # route -> (counts of every phase's buckets end to end, sum per phase)
        self._routes: dict[str, tuple[list[int], list[float]]] = {}

    def observe(self, route: str, recorder: PhaseRecorder, app_seconds: float) -> None:
        series = self._routes.get(route)
        if series is None:
            phases = len(self._labels)
            series = self._routes[route] = ([0] * (phases * self._width), [0.0] * phases)
        counts, sums = series
        bounds, width = self._bounds, self._width
        ran, totals = recorder.ran, recorder.totals
        for phase in PHASES:
            if ran >> phase & 1:
                seconds = totals[phase]
                counts[phase * width + bisect_left(bounds, seconds)] += 1
                sums[phase] += seconds
        app = len(PHASES)
        counts[app * width + bisect_left(bounds, app_seconds)] += 1
        sums[app] += app_seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self._name, self._documentation, labels=("route", "phase"))
        edges = [*map(floatToGoString, self._bounds), "+Inf"]
        width = self._width
        for route, (counts, sums) in list(self._routes.items()):
            for phase, label in enumerate(self._labels):
                row = counts[phase * width : (phase + 1) * width]
                if not any(row):
                    continue  # a route shows only the phases it has run
                buckets = list(zip(edges, accumulate(row), strict=True))
                family.add_metric([route, label], buckets, sums[phase])
        yield family
