"""The metrics a run reports, by their k6 names: each one's k6 type and what it contains, which
also exist per step, and the ``server_timing_<phase>`` trends named after what the target
reports. Thresholds, the JSON output and the summary all name metrics through this module.
"""

from __future__ import annotations

TREND, COUNTER, RATE, GAUGE = "trend", "counter", "rate", "gauge"

METRICS: dict[str, tuple[str, str]] = {
    "checks": (RATE, "default"),
    "data_received": (COUNTER, "data"),
    "data_sent": (COUNTER, "data"),
    "dropped_iterations": (COUNTER, "default"),
    "http_req_connecting": (TREND, "time"),
    "http_req_duration": (TREND, "time"),
    "http_req_duration_corrected": (TREND, "time"),
    "http_req_failed": (RATE, "default"),
    "http_req_waiting": (TREND, "time"),
    "http_reqs": (COUNTER, "default"),
    "iteration_duration": (TREND, "time"),
    "iteration_duration_corrected": (TREND, "time"),
    "iterations": (COUNTER, "default"),
    "iterations_failed": (COUNTER, "default"),
    "vus": (GAUGE, "default"),
    "vus_max": (GAUGE, "default"),
}
"""Metric name -> (k6 type, k6 ``contains``)."""

SERVER_TIMING_PREFIX = "server_timing_"
"""Trend metrics ``server_timing_<phase>`` (ms), one per phase the target reports; see
:mod:`loadgen.servertiming`."""


def metric_kind(name: str) -> tuple[str, str] | None:
    """(k6 type, ``contains``) of a metric name without tags, None when unknown."""
    kind = METRICS.get(name)
    if kind is None and name.startswith(SERVER_TIMING_PREFIX) and name != SERVER_TIMING_PREFIX:
        return (TREND, "time")
    return kind


STEP_METRICS = frozenset(
    {
        "http_req_connecting",
        "http_req_duration",
        "http_req_duration_corrected",
        "http_req_failed",
        "http_req_waiting",
        "http_reqs",
    }
)
"""Metrics that also exist per step, as ``name{step:<step>}`` sub-metrics."""
