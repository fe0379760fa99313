"""The ``--out`` JSON document: k6's summary data plus our window, time series and self-check.

Top level (k6's ``handleSummary`` data shape first, then our additions)::

    metrics            {name: {"type", "contains", "values", "thresholds"?}}
        type           "trend" | "counter" | "rate" | "gauge"
        contains       "time" (values in milliseconds) | "data" (bytes) | "default"
        values         trend:   avg, min, med, max, p(90), p(95), p(99) (+ any p(N) a
                                threshold asks for), in ms
                       counter: count, rate (per second of testRunDurationMs)
                       rate:    rate (fraction), passes, fails
                       gauge:   value, min, max
        thresholds     {"p(95)<500": {"ok": bool}}  only where a threshold was given
      names: http_req_duration, http_req_waiting, http_req_connecting, http_reqs,
      http_req_failed, iteration_duration, iterations, iterations_failed, checks, vus,
      vus_max, dropped_iterations, data_sent, data_received; per step also
      "<metric>{step:signup|login|refresh|logout}" for the http_* metrics; in the open model
      also http_req_duration_corrected and iteration_duration_corrected (latency from the
      intended start, i.e. corrected for coordinated omission). http_req_duration is always
      the service time (actual send -> end of body, connect time excluded, like k6);
      http_req_waiting runs from the send to the response headers (k6's time to first byte,
      here including the few microseconds of sending, which aiohttp does not expose);
      http_req_connecting is the TCP connect time of requests that opened a connection.
      When the target sends Server-Timing, also server_timing_<phase>{step:<step>} for each
      phase it reported (hash_wait, hash, db, redis, jwt, app, lb_queue, lb_connect, lb_ttfb,
      or any other name, lower-cased with non-alphanumerics as "_") and
      server_timing_remainder{step:<step>}: per response, http_req_duration minus the
      outermost server time (lb_queue + lb_connect + lb_ttfb when the balancer's entries are
      there, else app), i.e. all outside the handlers: HTTP layers, event-loop waits,
      network and client; each also without the tag (all steps).
      Each phase's trend covers the responses that reported it.
    root_group         {"name": "", "path": "", "id", "groups": [], "checks": [{"name",
                       "path", "id", "passes", "fails"}]}
    errors             {cause: count}: the failed requests counted in http_req_failed, by
                       why they failed ("connection refused", "request timeout", "server
                       closed the connection (EOF)", "HTTP 503", …), most frequent first;
                       a request whose connection was never made counts in no data_sent
    options            {"summaryTrendStats": [...], "summaryTimeUnit": "ms", "noColor": true}
    state              {"testRunDurationMs": float}  from test start to the end of the
                       graceful stop
      With --warmup, metrics and thresholds cover only what ended after the warm-up and
      counter rates are per second of (testRunDuration - warm-up).
    thresholds_ok      false when any threshold failed (the CLI then exits with 99)
    window             the measurement window [warmup_s, warmup_s + duration_s] after the
                       test start (graceful stop excluded): warmup_s, duration_s,
                       start_epoch_s (wall-clock start of the window, Unix seconds),
                       graceful_stop_s, aborted (stopped early by SIGINT/SIGTERM: the
                       window is then shorter than duration_s), iterations_started,
                       iterations_completed (all that ran to their end, warm-up and
                       graceful stop included),
                       iterations_completed_in_window, iterations_interrupted (cancelled
                       at the end of the graceful stop), dropped_iterations,
                       http_reqs_in_window, http_reqs_rate_in_window (per second),
                       iterations_rate_in_window, vus_counted, min_iterations_per_vu,
                       max_iterations_per_vu (iterations each VU completed in the window)
    timeseries         columns, one entry per second; entry i covers [i, i+1) s after the
                       test start, requests and iterations counted by their *end* time:
                       t, http_reqs, http_req_failed, iterations, iterations_failed,
                       dropped_iterations, vus (sampled at the end of the second),
                       data_sent, data_received, http_req_duration_avg / _p50 / _p95 / _p99 /
                       _max (ms), in the open model http_req_duration_corrected_p50 / _p95 /
                       _p99 (ms), loadgen_cpu_percent (of one core, summed over processes),
                       loadgen_loop_lag_max_ms
    loadgen            self-monitoring: processes [{process_index, wall_s, cpu_s,
                       cpu_percent_of_core, cpu_us_per_request, loop_lag_ms {p50, p99, max,
                       own_p99, samples}, max_rss_kib, warnings, notes}], cpu_s,
                       cpu_us_per_request, max_cpu_percent_of_core, max_loop_lag_p99_ms,
                       bottleneck (bool: the generator itself limited the run), warnings
                       [str] (why), notes [str] (lag from a contended host, not from the
                       generator), latency_model, when_busy
    where_the_time_went  {step: {phase: {"avg", "p(95)"}}} (ms), the server_timing_* trends
                       of each step that had any, phases in the order they happen and the
                       remainder last; {} when the target sends no Server-Timing
    config             the options of the run (target, executor, vus, max_vus, duration_s,
                       stages, rate_per_s, when_busy, graceful_stop_s, think_time_s,
                       request_timeout_s, thresholds, processes, run_id, email_domain)
    started_at         ISO 8601 UTC start time

``data_sent`` / ``data_received`` count HTTP/1.1 message bytes (request and status lines,
headers, bodies; request headers estimated from aiohttp's defaults), not TCP/IP overhead.
"""

from __future__ import annotations

import hashlib
from typing import Any

from loadgen.histogram import Histogram
from loadgen.measurements import Measurements
from loadgen.metrics import SERVER_TIMING_PREFIX, metric_kind
from loadgen.servertiming import ordered
from loadgen.stats import STEPS, Recorder
from loadgen.stepstats import StepStats

TREND_STATS = ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")
_DEFAULT_PERCENTILES = {"med": 50.0, "p(90)": 90.0, "p(95)": 95.0, "p(99)": 99.0}


def trend_values(histogram: Histogram, extra: tuple[float, ...] = ()) -> dict[str, float]:
    """k6 trend values in milliseconds (µs resolution)."""
    wanted = {**_DEFAULT_PERCENTILES, **{f"p({_number(p)})": p for p in extra}}
    found = histogram.percentiles(wanted.values())
    values = {
        "avg": round(histogram.mean_us / 1000, 3),
        "min": histogram.min_us / 1000,
        "max": histogram.max / 1000,
    }
    for name, percentile in wanted.items():
        values[name] = found[percentile] / 1000
    return {name: values[name] for name in (*TREND_STATS, *values) if name in values}


def counter_values(count: int, duration_s: float) -> dict[str, float]:
    return {"count": count, "rate": count / duration_s if duration_s > 0 else 0.0}


def rate_values(passes: int, fails: int) -> dict[str, float]:
    total = passes + fails
    return {"rate": passes / total if total else 0.0, "passes": passes, "fails": fails}


def gauge_values(value: int, low: int, high: int) -> dict[str, float]:
    return {"value": value, "min": low, "max": high}


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _metric(name: str, values: dict[str, float]) -> dict[str, Any]:
    base = name.split("{", 1)[0]
    found = metric_kind(base)
    if found is None:
        raise KeyError(f"unknown metric {base!r}")
    kind, contains = found
    return {"type": kind, "contains": contains, "values": values}


def _trend_sources(recorder: Recorder, total: StepStats) -> dict[str, Histogram]:
    sources = {
        "http_req_duration": total.duration,
        "http_req_waiting": total.waiting,
        "http_req_connecting": total.connecting,
        "iteration_duration": recorder.iteration_duration,
    }
    for step, stats in recorder.steps.items():
        sources[f"http_req_duration{{step:{step}}}"] = stats.duration
        sources[f"http_req_waiting{{step:{step}}}"] = stats.waiting
        if stats.connecting.count:
            sources[f"http_req_connecting{{step:{step}}}"] = stats.connecting
    if total.corrected.count or recorder.iteration_corrected.count:
        sources["http_req_duration_corrected"] = total.corrected
        sources["iteration_duration_corrected"] = recorder.iteration_corrected
        for step, stats in recorder.steps.items():
            sources[f"http_req_duration_corrected{{step:{step}}}"] = stats.corrected
    for key in ordered(list(total.server_timing)):
        sources[f"{SERVER_TIMING_PREFIX}{key}"] = total.server_timing[key]
        for step, stats in recorder.steps.items():
            if key in stats.server_timing:
                sources[f"{SERVER_TIMING_PREFIX}{key}{{step:{step}}}"] = stats.server_timing[key]
    return sources


def build_metrics(result: Measurements) -> dict[str, dict[str, Any]]:
    """The ``metrics`` object, with threshold verdicts attached."""
    recorder, config = result.recorder, result.config
    duration_s = recorder.duration_ns / 1e9 - config.warmup_s
    total = recorder.step_total()
    extra: dict[str, tuple[float, ...]] = {}
    for threshold in config.thresholds:
        if threshold.percentile is not None:
            extra[threshold.key] = (*extra.get(threshold.key, ()), threshold.percentile)
    metrics: dict[str, dict[str, Any]] = {}
    for name, histogram in _trend_sources(recorder, total).items():
        metrics[name] = _metric(name, trend_values(histogram, extra.get(name, ())))
    metrics["http_reqs"] = _metric("http_reqs", counter_values(total.requests, duration_s))
    metrics["http_req_failed"] = _metric(
        "http_req_failed", rate_values(total.failed, total.requests - total.failed)
    )
    for step, stats in recorder.steps.items():
        metrics[f"http_reqs{{step:{step}}}"] = _metric(
            "http_reqs", counter_values(stats.requests, duration_s)
        )
        metrics[f"http_req_failed{{step:{step}}}"] = _metric(
            "http_req_failed", rate_values(stats.failed, stats.requests - stats.failed)
        )
    passes = sum(p for p, _ in recorder.checks.values())
    fails = sum(f for _, f in recorder.checks.values())
    counters = {
        "iterations": recorder.iterations,
        "iterations_failed": recorder.iterations_failed,
        "dropped_iterations": recorder.dropped,
        "data_sent": total.bytes_sent,
        "data_received": total.bytes_received,
    }
    for name, count in counters.items():
        metrics[name] = _metric(name, counter_values(count, duration_s))
    metrics["checks"] = _metric("checks", rate_values(passes, fails))
    metrics["vus"] = _metric("vus", gauge_values(recorder.vus, recorder.vus_min, recorder.vus_peak))
    metrics["vus_max"] = _metric(
        "vus_max", gauge_values(recorder.vus_max, recorder.vus_max, recorder.vus_max)
    )
    for threshold in config.thresholds:
        metric = metrics.get(threshold.key)
        if metric is None:
            metric = metrics[threshold.key] = _metric(threshold.key, {})
        ok, _ = threshold.evaluate(metric["values"])
        if threshold.metric.startswith(SERVER_TIMING_PREFIX) and not metric["values"]:
            ok = False  # the target never reported that phase: nothing passes the threshold
        metric.setdefault("thresholds", {})[threshold.expression] = {"ok": ok}
    return dict(sorted(metrics.items()))


def build_where_the_time_went(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{step: {phase: {"avg", "p(95)"}}} from the ``server_timing_*{step:…}`` trends."""
    where: dict[str, dict[str, dict[str, float]]] = {}
    for step in STEPS:
        suffix = f"{{step:{step}}}"
        keys = [
            name[len(SERVER_TIMING_PREFIX) : -len(suffix)]
            for name in metrics
            if name.startswith(SERVER_TIMING_PREFIX) and name.endswith(suffix)
        ]
        phases = {}
        for key in ordered(keys):
            values = metrics[f"{SERVER_TIMING_PREFIX}{key}{suffix}"]["values"]
            if "avg" in values:
                phases[key] = {"avg": values["avg"], "p(95)": values["p(95)"]}
        if phases:
            where[step] = phases
    return where


def _check_id(path: str) -> str:
    return hashlib.md5(path.encode(), usedforsecurity=False).hexdigest()


def build_root_group(recorder: Recorder) -> dict[str, Any]:
    checks = [
        {"name": name, "path": f"::{name}", "id": _check_id(f"::{name}"), "passes": p, "fails": f}
        for name, (p, f) in recorder.checks.items()
    ]
    return {"name": "", "path": "", "id": _check_id(""), "groups": [], "checks": checks}


def build_window(result: Measurements) -> dict[str, Any]:
    recorder, config = result.recorder, result.config
    window_s = config.window_s
    per_vu = list(recorder.per_vu_in_window.values())
    return {
        "warmup_s": config.warmup_s,
        "duration_s": window_s,
        "start_epoch_s": recorder.start_epoch_s + config.warmup_s,
        "graceful_stop_s": config.graceful_stop_s,
        "aborted": recorder.aborted,
        "iterations_started": recorder.iterations_started,
        "iterations_completed": recorder.iterations_ended,
        "iterations_completed_in_window": recorder.iterations_in_window,
        "iterations_interrupted": recorder.iterations_interrupted,
        "dropped_iterations": recorder.dropped,
        "http_reqs_in_window": recorder.requests_in_window,
        "http_reqs_rate_in_window": recorder.requests_in_window / window_s,
        "iterations_rate_in_window": recorder.iterations_in_window / window_s,
        "vus_counted": len(per_vu),
        "min_iterations_per_vu": min(per_vu, default=0),
        "max_iterations_per_vu": max(per_vu, default=0),
    }


def build_timeseries(recorder: Recorder, open_model: bool) -> dict[str, Any]:
    seconds = recorder.seconds
    columns: dict[str, list[Any]] = {
        "t": list(range(len(seconds))),
        "http_reqs": [s.requests for s in seconds],
        "http_req_failed": [s.failed for s in seconds],
        "iterations": [s.iterations for s in seconds],
        "iterations_failed": [s.iterations_failed for s in seconds],
        "dropped_iterations": [s.dropped for s in seconds],
        "vus": [s.vus for s in seconds],
        "data_sent": [s.bytes_sent for s in seconds],
        "data_received": [s.bytes_received for s in seconds],
        "http_req_duration_avg": [round(s.duration.mean_us / 1000, 3) for s in seconds],
    }
    percentiles = [s.duration.percentiles((50, 95, 99)) for s in seconds]
    for p in (50, 95, 99):
        columns[f"http_req_duration_p{p}"] = [found[p] / 1000 for found in percentiles]
    columns["http_req_duration_max"] = [s.duration.max / 1000 for s in seconds]
    if open_model:
        corrected = [s.corrected.percentiles((50, 95, 99)) for s in seconds]
        for p in (50, 95, 99):
            columns[f"http_req_duration_corrected_p{p}"] = [found[p] / 1000 for found in corrected]
    columns["loadgen_cpu_percent"] = [round(100 * s.cpu_s, 1) for s in seconds]
    columns["loadgen_loop_lag_max_ms"] = [s.loop_lag_max_us / 1000 for s in seconds]
    return {"interval_s": 1, **columns}


def build_loadgen(result: Measurements) -> dict[str, Any]:
    monitors = result.monitors
    cpu_s = sum(m.cpu_s for m in monitors)
    requests = sum(m.requests for m in monitors)
    warnings = result.warnings
    if result.config.open_model:
        model = (
            "open model: http_req_duration is the service time (from the actual send); "
            "http_req_duration_corrected is measured from each request's intended start"
        )
    else:
        model = (
            "closed model: latencies are service times (from the actual send), "
            "not user-experienced latency"
        )
    return {
        "processes": [m.to_dict() for m in monitors],
        "cpu_s": round(cpu_s, 3),
        "cpu_us_per_request": round(1e6 * cpu_s / requests, 1) if requests else None,
        "max_cpu_percent_of_core": max(
            (round(100 * m.cpu_fraction, 1) for m in monitors), default=0.0
        ),
        "max_loop_lag_p99_ms": max((m.lag_p99_ms for m in monitors), default=0.0),
        "bottleneck": bool(warnings),
        "warnings": warnings,
        "notes": result.notes,
        "latency_model": model,
        "when_busy": result.config.when_busy if result.config.open_model else None,
    }


def build_summary_data(result: Measurements) -> dict[str, Any]:
    metrics = build_metrics(result)
    thresholds_ok = all(
        verdict["ok"]
        for metric in metrics.values()
        for verdict in metric.get("thresholds", {}).values()
    )
    return {
        "metrics": metrics,
        "root_group": build_root_group(result.recorder),
        "errors": dict(sorted(result.recorder.failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        "options": {
            "summaryTrendStats": list(TREND_STATS),
            "summaryTimeUnit": "ms",
            "noColor": True,
        },
        "state": {"testRunDurationMs": result.recorder.duration_ns / 1e6},
        "thresholds_ok": thresholds_ok,
        "window": build_window(result),
        "timeseries": build_timeseries(result.recorder, result.config.open_model),
        "loadgen": build_loadgen(result),
        "where_the_time_went": build_where_the_time_went(metrics),
        "config": result.config.to_dict(),
        "started_at": result.started_at,
        "steps": list(STEPS),
    }
