"""Where a request's time went: the server's phases, from the load generator's JSON, as
segments that add up to the latency the client measured.

The service reports, per response, the phases that ran (`Server-Timing`): `hash_wait`
(queued for a hashing thread), `hash` (bcrypt), `db`, `redis`, `jwt`, and `app`, the whole
handler, which contains the others. Behind the balancer it adds `lb_queue` (waiting for a
backend slot), `lb_connect` and `lb_ttfb` (the backend's time to first byte as the balancer
saw it, which contains the backend's `app`). The load generator aggregates them per step as
trend metrics `server_timing_<phase>{step:<step>}` and `server_timing_remainder{step:…}`
(client duration minus the outermost server time: everything outside the handlers — the
servers' HTTP layers, event-loop waits before a handler, the network and the client), and also as a
convenience object `where_the_time_went` {step: {phase: {"avg", "p(95)"}}}.

The segments of a step's bar (averages, in ms; averages add up, percentiles do not):

    hash_wait, hash, db, redis, jwt     as measured
    other_app    app − the five above   (routing, parsing, JSON: the handler's own work)
    balancer     lb_queue + lb_connect + (lb_ttfb − app), when behind the balancer
    remainder    client duration − the outermost server time

so that their sum is the client's average duration of the step. Each phase's average is
over the requests that reported it; every request of a step runs the same phases, so the
sum holds up to the few requests that failed before reaching them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadgen import servertiming

# The phase names are the load generator's (one list, where the parser keeps them).
SERVICE_PHASES = servertiming.SERVICE
BALANCER_PHASES = servertiming.BALANCER
PHASES = (*servertiming.ORDER, servertiming.REMAINDER)
#: The stacked segments, bottom to top; they add up to the client duration.
SEGMENTS = (*SERVICE_PHASES, "other_app", "balancer", "remainder")
SEGMENT_LABELS = {
    "hash_wait": "waiting for a hashing thread",
    "hash": "bcrypt",
    "db": "Postgres",
    "redis": "Redis",
    "jwt": "JWT",
    "other_app": "other handler work",
    "balancer": "balancer",
    "remainder": "outside the handlers: HTTP layers, loop waits, network, client",
}
#: The same, short enough for a table's header.
SEGMENT_HEADERS = {
    "hash_wait": "hash wait",
    "hash": "bcrypt",
    "db": "Postgres",
    "redis": "Redis",
    "jwt": "JWT",
    "other_app": "other app",
    "balancer": "balancer",
    "remainder": "outside",
}
STATS = ("avg", "p(95)")


def step_phases(result: Mapping[str, Any], step: str) -> dict[str, dict[str, float]]:
    """phase → {"avg", "p(95)"} in ms for one step; empty when the JSON carries none.

    Trend metrics are read first (they are what thresholds name); the convenience object
    fills in any phase they lack.
    """
    metrics = result.get("metrics", {})
    convenience = result.get("where_the_time_went", {})
    convenience = convenience.get(step, {}) if isinstance(convenience, Mapping) else {}
    out: dict[str, dict[str, float]] = {}
    for phase in PHASES:
        metric = metrics.get(f"server_timing_{phase}{{step:{step}}}")
        values = metric.get("values") if isinstance(metric, Mapping) else None
        if not isinstance(values, Mapping):
            values = convenience.get(phase) if isinstance(convenience, Mapping) else None
        if isinstance(values, Mapping) and values.get("avg") is not None:
            out[phase] = {k: float(values.get(k) or 0.0) for k in STATS}
    return out


def segments(phases: Mapping[str, Mapping[str, float]], duration_ms: float) -> dict[str, float]:
    """The stacked segments of one step (SEGMENTS order, ms), adding up to `duration_ms`.

    Without a measured remainder it is what the client saw beyond the outermost server
    time. Differences are floored at 0 so that rounding in the inputs cannot draw a
    negative bar; the remainder then absorbs what is left over.
    """

    def avg(phase: str) -> float:
        return float(phases.get(phase, {}).get("avg", 0.0))

    inner = {p: avg(p) for p in SERVICE_PHASES}
    app = avg("app") if "app" in phases else sum(inner.values())
    out = {**inner, "other_app": max(0.0, app - sum(inner.values()))}
    if any(p in phases for p in BALANCER_PHASES):
        waited = avg("lb_queue") + avg("lb_connect")
        out["balancer"] = waited + max(0.0, avg("lb_ttfb") - app)
    else:
        out["balancer"] = 0.0
    server = sum(out.values())
    out["remainder"] = avg("remainder") if "remainder" in phases else duration_ms - server
    if out["remainder"] < 0:
        out["remainder"] = 0.0
    return out


def breakdown(
    result: Mapping[str, Any], durations_ms: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Per step: the client's average duration, the segments and the phases as measured.

    `durations_ms` is each step's average client duration. Steps without phases are left
    out, so a load generator that does not report them gives an empty breakdown.
    """
    out: dict[str, dict[str, Any]] = {}
    for step, duration in durations_ms.items():
        phases = step_phases(result, step)
        if not phases:
            continue
        out[step] = {
            "duration_ms": duration,
            "segments_ms": segments(phases, duration),
            "phases": phases,
        }
    return out
