"""Pure pieces of the bench: a load generator's JSON → one run record of results.json, and
the judgement whether that run was a sound measurement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.reporting import breakdown, ceiling

STEPS = ("signup", "login", "refresh", "logout")
TREND_KEYS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")

#: Each VU must complete at least this many iterations inside the window…
MIN_ITERATIONS_PER_VU = 2
#: …and the average VU at least this many, or the window measured a ramp, not a steady state.
MEAN_ITERATIONS_PER_VU = 3.0
#: The share of the host's CPU capacity (usable cores × window) that processes the bench did
#: not start may use before the run stops measuring our components alone: beyond it,
#: something else competed for the cores and the figures say as much about that as about
#: authscale. Capacity, not busy time: in a CPU-limited run the host is mostly idle, and the
#: kernel's own threads would otherwise be a large share of the little busy time.
MAX_OTHER_SHARE = 0.10


def _metric(result: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    metric = result.get("metrics", {}).get(name)
    return metric.get("values", {}) if isinstance(metric, Mapping) else {}


def _trend(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(values.get(k, 0.0) or 0.0) for k in TREND_KEYS}


def _rows(columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The load generator's per-second columns as rows (scalars such as interval_s skipped)."""
    keys = [k for k, v in columns.items() if isinstance(v, list)]
    length = min((len(columns[k]) for k in keys), default=0)
    return [{k: columns[k][i] for k in keys} for i in range(length)]


def window_timeseries(result: Mapping[str, Any]) -> list[dict[str, float]]:
    """Per-second rows inside the window, t counted from the window's start."""
    window = result.get("window", {})
    start = float(window.get("warmup_s", 0.0))
    end = start + float(window.get("duration_s", 0.0))
    rows = []
    for row in _rows(result.get("timeseries", {})):
        t = float(row.get("t", 0))
        if start <= t < end:
            rows.append(
                {
                    "t": t - start,
                    "reqs": float(row.get("http_reqs", 0) or 0),
                    "failed": float(row.get("http_req_failed", 0) or 0),
                    "iterations": float(row.get("iterations", 0) or 0),
                    "p95_ms": float(row.get("http_req_duration_p95", 0) or 0),
                }
            )
    return rows


def run_record(
    result: Mapping[str, Any],
    *,
    topology: str,
    instances: int,
    balancer: bool,
    repeat: int,
    cpu: Mapping[str, Any],
    ceiling_iterations_per_s: float,
    cpu_timeline: Sequence[Mapping[str, float]] = (),
) -> dict[str, Any]:
    """One run of results.json from the load generator's output and the window's CPU."""
    window = result.get("window", {})
    window_s = float(window.get("duration_s", 0.0))
    iterations = int(window.get("iterations_completed_in_window", 0))
    reqs = int(window.get("http_reqs_in_window", _metric(result, "http_reqs").get("count", 0)))
    iterations_per_s = iterations / window_s if window_s else 0.0
    failed = _metric(result, "http_req_failed")
    checks = _metric(result, "checks")
    loadgen = result.get("loadgen", {})
    steps: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        tagged = f"{{step:{step}}}"
        step_failed = _metric(result, f"http_req_failed{tagged}")
        steps[step] = {
            "count": int(_metric(result, f"http_reqs{tagged}").get("count", 0)),
            "failed": int(step_failed.get("passes", 0)),
            "http_req_duration": _trend(_metric(result, f"http_req_duration{tagged}")),
        }
    record: dict[str, Any] = {
        "topology": topology,
        "instances": instances,
        "balancer": balancer,
        "repeat": repeat,
        "window_s": window_s,
        "iterations": iterations,
        "iterations_per_s": iterations_per_s,
        "iterations_failed": int(_metric(result, "iterations_failed").get("count", 0)),
        "http_reqs": reqs,
        "req_per_s": reqs / window_s if window_s else 0.0,
        # k6's http_req_failed is a Rate whose "passes" are the failed requests.
        "http_req_failed_rate": float(failed.get("rate", 0.0)),
        "checks_rate": float(checks.get("rate", 1.0)),
        "min_iterations_per_vu": int(window.get("min_iterations_per_vu", 0)),
        "max_iterations_per_vu": int(window.get("max_iterations_per_vu", 0)),
        "vus": int(window.get("vus_counted", result.get("config", {}).get("vus", 0))),
        "http_req_duration": _trend(_metric(result, "http_req_duration")),
        "iteration_duration": _trend(_metric(result, "iteration_duration")),
        "steps": steps,
        "where_the_time_went": breakdown.breakdown(
            result, {step: s["http_req_duration"]["avg"] for step, s in steps.items()}
        ),
        "timeseries": window_timeseries(result),
        "cpu_timeline": list(cpu_timeline),
        **cpu,
        "ceiling_iterations_per_s": ceiling_iterations_per_s,
        "efficiency": iterations_per_s / ceiling_iterations_per_s
        if ceiling_iterations_per_s
        else 0.0,
        "loadgen_warnings": list(loadgen.get("warnings", [])),
    }
    record["unsound_reasons"] = unsound_reasons(record, bottleneck=bool(loadgen.get("bottleneck")))
    record["sound"] = not record["unsound_reasons"]
    return record


def judged_against_ceiling(
    record: Mapping[str, Any],
    *,
    ceiling_iterations_per_s: float,
    series_pairs_per_s: Sequence[float],
    ceilings: Sequence[ceiling.Ceiling] = (),
) -> dict[str, Any]:
    """`record` with its efficiency taken against the best ceiling measured, and unsound
    when that efficiency exceeds 1.0, the ceilings around its series disagree, or one of
    `ceilings` (those it was judged against) ran slower on several threads than on one."""
    out = dict(record)
    iterations_per_s = float(record.get("iterations_per_s", 0.0))
    out["ceiling_iterations_per_s"] = ceiling_iterations_per_s
    out["efficiency"] = (
        iterations_per_s / ceiling_iterations_per_s if ceiling_iterations_per_s else 0.0
    )
    reasons = [
        r
        for r in record.get("unsound_reasons", [])
        if not r.startswith(("efficiency ", "the bcrypt ceiling"))
    ]
    reasons += ceiling.unsound_reasons(out["efficiency"], series_pairs_per_s)
    reasons += _unique(
        ceiling.slower_in_parallel_reason(c) for c in ceilings if ceiling.slower_in_parallel(c)
    )
    out["unsound_reasons"] = reasons
    out["sound"] = not reasons
    return out


def unsound_reasons(record: Mapping[str, Any], *, bottleneck: bool = False) -> list[str]:
    """Why a run does not measure a steady state (empty when it does)."""
    reasons = []
    vus = int(record.get("vus", 0)) or 1
    mean = record["iterations"] / vus
    least = int(record.get("min_iterations_per_vu", 0))
    if least < MIN_ITERATIONS_PER_VU or mean < MEAN_ITERATIONS_PER_VU:
        reasons.append(
            f"VUs completed {mean:.1f} iterations each on average (fewest {least}) in the "
            f"{record['window_s']:g} s window; a steady-state measurement needs at least "
            f"{MEAN_ITERATIONS_PER_VU:g} on average and {MIN_ITERATIONS_PER_VU} each: lengthen "
            "the window or lower the VUs or the bcrypt cost"
        )
    if bottleneck:
        reasons.append("the load generator was itself a bottleneck (see its warnings)")
    if record.get("iterations", 0) == 0:
        reasons.append("no iteration completed inside the window")
    host = record.get("host")
    if isinstance(host, Mapping):
        noisy = host_noise_reason(
            float(host.get("cpu_seconds_busy", 0.0) or 0.0),
            record.get("cpu_seconds", {}),
            float(host.get("utilisation", 0.0) or 0.0),
        )
        if noisy is not None:
            reasons.append(noisy)
    return reasons


def host_noise_reason(
    host_busy: float, components: Mapping[str, float], utilisation: float
) -> str | None:
    """Why the host was not quiet, when processes the bench did not start used more than
    MAX_OTHER_SHARE of its CPU capacity (None when it was quiet enough). `utilisation` is
    busy ÷ capacity, as the run recorded it."""
    if host_busy <= 0 or utilisation <= 0:
        return None
    capacity = host_busy / utilisation
    other = max(0.0, host_busy - sum(float(v) for v in components.values()))
    share = other / capacity
    if share <= MAX_OTHER_SHARE:
        return None
    return (
        f"other processes used {share * 100:.1f} % of the host's CPU capacity: the host was "
        "not quiet"
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def predicted_iteration_s(vus: int, ceiling_iterations_per_s: float) -> float:
    """In a closed system at the ceiling, each VU waits its turn: vus / throughput."""
    return vus / ceiling_iterations_per_s if ceiling_iterations_per_s > 0 else float("inf")


def soundness_forecast(vus: int, window_s: float, ceiling_iterations_per_s: float) -> str | None:
    """Before running: a warning when even at the ceiling the window is too short."""
    per_iteration = predicted_iteration_s(vus, ceiling_iterations_per_s)
    expected = window_s / per_iteration
    if expected < MEAN_ITERATIONS_PER_VU:
        return (
            f"{vus} VUs at a ceiling of {ceiling_iterations_per_s:.1f} it/s take about "
            f"{per_iteration:.1f} s per iteration, so a {window_s:g} s window holds about "
            f"{expected:.1f} iterations per VU: the run will be marked unsound"
        )
    return None
