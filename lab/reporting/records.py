"""Pure pieces of the bench: a load generator's JSON → one typed `Run` of results.json, and
the judgement whether that run was a sound measurement."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lab.reporting import breakdown, ceiling
from lab.reporting.results import Host, Latency, Run, Step, StepTime, TimePoint
from lab.reporting.soundness import (
    MEAN_ITERATIONS_PER_VU,
    MIN_ITERATIONS_PER_VU,
    host_noise_reason,
)
from loadgen.stats import STEPS


def _metric(result: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    metric = result.get("metrics", {}).get(name)
    return metric.get("values", {}) if isinstance(metric, Mapping) else {}


def _latency(values: Mapping[str, Any]) -> Latency:
    def value(key: str) -> float:
        return float(values.get(key, 0.0) or 0.0)

    return Latency(
        avg=value("avg"),
        min=value("min"),
        med=value("med"),
        max=value("max"),
        p90=value("p(90)"),
        p95=value("p(95)"),
        p99=value("p(99)"),
    )


def _rows(columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The load generator's per-second columns as rows (scalars such as interval_s skipped)."""
    keys = [k for k, v in columns.items() if isinstance(v, list)]
    length = min((len(columns[k]) for k in keys), default=0)
    return [{k: columns[k][i] for k in keys} for i in range(length)]


def window_timeseries(result: Mapping[str, Any]) -> tuple[TimePoint, ...]:
    """Per-second rows inside the window, t counted from the window's start."""
    window = result.get("window", {})
    start = float(window.get("warmup_s", 0.0))
    end = start + float(window.get("duration_s", 0.0))
    rows = []
    for row in _rows(result.get("timeseries", {})):
        t = float(row.get("t", 0))
        if start <= t < end:
            rows.append(
                TimePoint(
                    t=t - start,
                    reqs=float(row.get("http_reqs", 0) or 0),
                    failed=float(row.get("http_req_failed", 0) or 0),
                    iterations=float(row.get("iterations", 0) or 0),
                    p95_ms=float(row.get("http_req_duration_p95", 0) or 0),
                )
            )
    return tuple(rows)


def _steps(result: Mapping[str, Any]) -> dict[str, Step]:
    steps = {}
    for step in STEPS:
        tagged = f"{{step:{step}}}"
        steps[step] = Step(
            count=int(_metric(result, f"http_reqs{tagged}").get("count", 0)),
            failed=int(_metric(result, f"http_req_failed{tagged}").get("passes", 0)),
            http_req_duration=_latency(_metric(result, f"http_req_duration{tagged}")),
        )
    return steps


def _where_the_time_went(
    result: Mapping[str, Any], steps: Mapping[str, Step]
) -> dict[str, StepTime]:
    found = breakdown.breakdown(
        result, {name: step.http_req_duration.avg for name, step in steps.items()}
    )
    return {
        name: StepTime(
            duration_ms=float(step["duration_ms"]),
            segments_ms={k: float(v) for k, v in step["segments_ms"].items()},
            phases={
                phase: {k: float(v) for k, v in figures.items()}
                for phase, figures in step["phases"].items()
            },
        )
        for name, step in found.items()
    }


def _host(cpu: Mapping[str, Any]) -> Host:
    host = cpu.get("host", {})
    return Host(
        cpu_seconds_busy=float(host.get("cpu_seconds_busy", 0.0) or 0.0),
        utilisation=float(host.get("utilisation", 0.0) or 0.0),
    )


def measured_run(
    result: Mapping[str, Any],
    *,
    topology: str,
    instances: int,
    balancer: bool,
    repeat: int,
    cpu: Mapping[str, Any],
    ceiling_iterations_per_s: float,
    cpu_timeline: Sequence[Mapping[str, float]] = (),
    usable_cores: float | None = None,
) -> Run:
    """One run of results.json from the load generator's output and the window's CPU
    (`cpuacct.CpuUsage.to_dict()`: `cpu_seconds` per component and the `host`'s)."""
    window = result.get("window", {})
    window_s = float(window.get("duration_s", 0.0))
    iterations = int(window.get("iterations_completed_in_window", 0))
    reqs = int(window.get("http_reqs_in_window", _metric(result, "http_reqs").get("count", 0)))
    iterations_per_s = iterations / window_s if window_s else 0.0
    loadgen = result.get("loadgen", {})
    steps = _steps(result)
    run = Run(
        topology=topology,
        instances=instances,
        balancer=balancer,
        repeat=repeat,
        window_s=window_s,
        sound=True,
        iterations=iterations,
        iterations_per_s=iterations_per_s,
        iterations_failed=int(_metric(result, "iterations_failed").get("count", 0)),
        http_reqs=reqs,
        req_per_s=reqs / window_s if window_s else 0.0,
        # k6's http_req_failed is a Rate whose "passes" are the failed requests.
        http_req_failed_rate=float(_metric(result, "http_req_failed").get("rate", 0.0)),
        checks_rate=float(_metric(result, "checks").get("rate", 1.0)),
        min_iterations_per_vu=int(window.get("min_iterations_per_vu", 0)),
        max_iterations_per_vu=int(window.get("max_iterations_per_vu", 0)),
        http_req_duration=_latency(_metric(result, "http_req_duration")),
        iteration_duration=_latency(_metric(result, "iteration_duration")),
        steps=steps,
        where_the_time_went=_where_the_time_went(result, steps),
        timeseries=window_timeseries(result),
        cpu_seconds={k: float(v) for k, v in cpu.get("cpu_seconds", {}).items()},
        host=_host(cpu),
        usable_cores=usable_cores,
        ceiling_iterations_per_s=ceiling_iterations_per_s,
        efficiency=iterations_per_s / ceiling_iterations_per_s if ceiling_iterations_per_s else 0.0,
        loadgen_warnings=tuple(loadgen.get("warnings", [])),
        vus=int(window.get("vus_counted", result.get("config", {}).get("vus", 0))),
        cpu_timeline=tuple(dict(row) for row in cpu_timeline),
    )
    reasons = unsound_reasons(run, bottleneck=bool(loadgen.get("bottleneck")))
    return dataclasses.replace(run, unsound_reasons=tuple(reasons), sound=not reasons)


def judged_against_ceiling(
    run: Run,
    *,
    ceiling_iterations_per_s: float,
    series_pairs_per_s: Sequence[float],
    ceilings: Sequence[ceiling.Ceiling] = (),
) -> Run:
    """`run` with its efficiency taken against the best ceiling measured, and unsound
    when that efficiency exceeds 1.0, the ceilings around its series disagree, or one of
    `ceilings` (those it was judged against) ran slower on several threads than on one."""
    efficiency = (
        run.iterations_per_s / ceiling_iterations_per_s if ceiling_iterations_per_s else 0.0
    )
    reasons = [
        r for r in run.unsound_reasons if not r.startswith(("efficiency ", "the bcrypt ceiling"))
    ]
    reasons += ceiling.unsound_reasons(efficiency, series_pairs_per_s)
    # Each reason once: the kept ceiling is also one of the measurements around the series.
    reasons += dict.fromkeys(
        ceiling.slower_in_parallel_reason(c) for c in ceilings if ceiling.slower_in_parallel(c)
    )
    return dataclasses.replace(
        run,
        ceiling_iterations_per_s=ceiling_iterations_per_s,
        efficiency=efficiency,
        unsound_reasons=tuple(reasons),
        sound=not reasons,
    )


def unsound_reasons(run: Run, *, bottleneck: bool = False) -> list[str]:
    """Why a run does not measure a steady state (empty when it does)."""
    reasons = []
    vus = run.vus or 1
    mean = run.iterations / vus
    least = run.min_iterations_per_vu
    if least < MIN_ITERATIONS_PER_VU or mean < MEAN_ITERATIONS_PER_VU:
        reasons.append(
            f"VUs completed {mean:.1f} iterations each on average (fewest {least}) in the "
            f"{run.window_s:g} s window; a steady-state measurement needs at least "
            f"{MEAN_ITERATIONS_PER_VU:g} on average and {MIN_ITERATIONS_PER_VU} each: lengthen "
            "the window or lower the VUs or the bcrypt cost"
        )
    if bottleneck:
        reasons.append("the load generator was itself a bottleneck (see its warnings)")
    if run.iterations == 0:
        reasons.append("no iteration completed inside the window")
    noisy = host_noise_reason(run.host.cpu_seconds_busy, run.cpu_seconds, run.host.utilisation)
    if noisy is not None:
        reasons.append(noisy)
    return reasons
