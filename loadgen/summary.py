"""The end-of-test summary, laid out like k6's (compact mode), rendered from summary data.

:func:`render_summary` is pure: it reads only the dict of :mod:`loadgen.output`, so the text
is tested against a golden file and a JSON file can be re-rendered later.
"""

from __future__ import annotations

from typing import Any

from loadgen.metrics import SERVER_TIMING_PREFIX
from loadgen.stats import STEPS

_NAME_WIDTH = 40
_PER_STEP = ("http_req_duration", "http_req_duration_corrected", "http_req_failed", "http_reqs")
_GROUPS = {
    "HTTP": (
        "http_req_connecting",
        "http_req_duration",
        "http_req_duration_corrected",
        "http_req_failed",
        "http_req_waiting",
        "http_reqs",
    ),
    "EXECUTION": (
        "dropped_iterations",
        "iteration_duration",
        "iteration_duration_corrected",
        "iterations",
        "iterations_failed",
        "vus",
        "vus_max",
    ),
    "NETWORK": ("data_received", "data_sent"),
}


def format_time(ms: float) -> str:
    """k6-style durations: 512µs, 12.34ms, 1.5s, 2m3.4s."""
    if ms == 0:
        return "0s"
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 1000:
        return f"{ms:.2f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f}m{rest:.1f}s"


def format_bytes(count: float) -> str:
    """SI units like k6: 950 B, 12 kB, 3.4 MB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count:.0f} B"


def format_rate(rate: float) -> str:
    return f"{rate:.2f}/s" if rate < 100 else f"{rate:.1f}/s"


def _dots(label: str, indent: int = 4) -> str:
    return " " * indent + label + "." * max(3, _NAME_WIDTH - len(label) - indent) + ": "


def _values_text(metric: dict[str, Any], stats: list[str]) -> str:
    values = metric["values"]
    kind = metric["type"]
    if kind == "trend":
        return " ".join(f"{s}={format_time(values[s])}" for s in stats if s in values)
    if kind == "counter":
        if metric["contains"] == "data":
            return f"{format_bytes(values['count']):<8} {format_bytes(values['rate'])}/s"
        return f"{values['count']:<8} {format_rate(values['rate'])}"
    if kind == "rate":
        total = values["passes"] + values["fails"]
        return f"{100 * values['rate']:.2f}%  {values['passes']} out of {total}"
    return f"{values['value']:<8} min={values['min']} max={values['max']}"


def _header(data: dict[str, Any]) -> list[str]:
    config = data["config"]
    if config["executor"] == "constant-arrival-rate":
        load = (
            f"{config['rate_per_s']:g} iterations/s for {config['duration_s']:g}s, "
            f"max {config['max_vus']} VUs, when busy: {config['when_busy']}"
        )
    elif config["executor"] == "ramping-vus":
        stages = ", ".join(f"{s['duration_s']:g}s→{s['target']}" for s in config["stages"])
        load = f"from {config['vus']} VUs: {stages}"
    else:
        load = f"{config['vus']} VUs for {config['duration_s']:g}s"
    if config["warmup_s"]:
        load += f" after {config['warmup_s']:g}s warm-up"
    return [
        f"     target: {config['target']}",
        f"   executor: {config['executor']}, {load} "
        f"(graceful stop {config['graceful_stop_s']:g}s, {config['processes']} process"
        f"{'es' if config['processes'] != 1 else ''})",
        f"    latency: {data['loadgen']['latency_model']}",
    ]


def _thresholds(metrics: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, metric in metrics.items():
        verdicts = metric.get("thresholds")
        if not verdicts:
            continue
        lines += ["", f"    {name}"]
        for expression, verdict in verdicts.items():
            mark = "✓" if verdict["ok"] else "✗"
            aggregation = expression.rstrip("0123456789.").rstrip("<>=!")
            observed = metric["values"].get(aggregation)
            shown = ""
            if name.startswith(SERVER_TIMING_PREFIX) and not metric["values"]:
                shown = f" {_never_reported(name)}"
            elif observed is not None:
                shown = (
                    format_time(observed)
                    if metric["type"] == "trend"
                    else f"{observed:.4g}"
                    if isinstance(observed, float)
                    else str(observed)
                )
                shown = f" {aggregation}={shown}"
            lines.append(f"    {mark} '{expression}'{shown}")
    return ["", "  █ THRESHOLDS", *lines] if lines else []


def _checks(data: dict[str, Any]) -> list[str]:
    metric = data["metrics"]["checks"]["values"]
    total = metric["passes"] + metric["fails"]
    rate = data["state"]["testRunDurationMs"] / 1000
    lines = [
        _dots("checks_total") + f"{total:<8} {format_rate(total / rate if rate else 0)}",
        _dots("checks_succeeded")
        + f"{100 * metric['rate']:.2f}%  {metric['passes']} out of {total}",
        _dots("checks_failed")
        + f"{100 * (1 - metric['rate']) if total else 0:.2f}%  {metric['fails']} out of {total}",
        "",
    ]
    for check in data["root_group"]["checks"]:
        passes, fails = check["passes"], check["fails"]
        lines.append(f"    {'✓' if not fails else '✗'} {check['name']}")
        if fails:
            share = 100 * passes / (passes + fails)
            lines.append(f"      ↳  {share:.0f}% — ✓ {passes} / ✗ {fails}")
    return lines


def _metrics(data: dict[str, Any]) -> list[str]:
    metrics = data["metrics"]
    stats = data["options"]["summaryTrendStats"]
    lines: list[str] = []
    for group, names in _GROUPS.items():
        lines += ["", f"    {group}"]
        for name in names:
            if name not in metrics:
                continue
            lines.append(_dots(name) + _values_text(metrics[name], stats))
            for step in STEPS if name in _PER_STEP else ():
                sub = metrics.get(f"{name}{{step:{step}}}")
                if sub is not None:
                    lines.append(_dots(f"{{ step:{step} }}", 6) + _values_text(sub, stats))
    return lines


def _errors(data: dict[str, Any]) -> list[str]:
    """Why requests failed: without it a run that failed them all says only "100 %"."""
    errors = data.get("errors") or {}
    if not errors:
        return []
    lines = ["", "    ERRORS (failed requests by cause)"]
    return lines + [f"      {cause} × {count}" for cause, count in errors.items()]


def _window(data: dict[str, Any]) -> list[str]:
    window = data["window"]
    start, duration = window["warmup_s"], window["duration_s"]
    return [
        "",
        f"    WINDOW (what ended between {start:g}s and {start + duration:g}s; "
        "warm-up and graceful stop excluded)",
        _dots("http_reqs")
        + f"{window['http_reqs_in_window']:<8} {format_rate(window['http_reqs_rate_in_window'])}",
        _dots("iterations")
        + f"{window['iterations_completed_in_window']:<8} "
        + format_rate(window["iterations_rate_in_window"]),
        _dots("iterations per VU")
        + f"min={window['min_iterations_per_vu']} max={window['max_iterations_per_vu']} "
        f"({window['vus_counted']} VUs)",
    ]


def _never_reported(name: str) -> str:
    """Why a threshold on ``server_timing_<phase>[{step:<step>}]`` has nothing to judge."""
    phase, _, tag = name[len(SERVER_TIMING_PREFIX) :].partition("{")
    step = tag.removeprefix("step:").rstrip("}")
    return f"the target never reported {phase}" + (f" for {step}" if step else "")


def _where_the_time_went(data: dict[str, Any]) -> list[str]:
    """Per step, the server's phases, then the remainder and the client's duration."""
    where = data.get("where_the_time_went") or {}
    if not where:
        return []
    metrics = data["metrics"]
    lines = [
        "",
        "  █ WHERE THE TIME WENT",
        "",
        "    Server-Timing phases per step (avg, p95); remainder = the client's duration minus",
        "    the outermost server time (the balancer's lb_queue + lb_connect + lb_ttfb, else",
        "    app): all that ran outside the handlers, i.e. the servers' HTTP layers, event-loop",
        "    waits before a handler ran, the network and the client. Phases nest (app holds",
        "    the service's phases, lb_ttfb holds app), so only the outermost ones and the",
        "    remainder add up to the duration.",
    ]
    for step, phases in where.items():
        lines += ["", f"    {step}"]
        for phase, values in phases.items():
            label = "remainder (outside the handlers)" if phase == "remainder" else phase
            lines.append(_dots(label, 6) + _avg_p95(values))
        duration = metrics.get(f"http_req_duration{{step:{step}}}")
        if duration is not None:
            lines.append(_dots("http_req_duration (client)", 6) + _avg_p95(duration["values"]))
    return lines


def _avg_p95(values: dict[str, float]) -> str:
    return f"avg={format_time(values['avg']):<9} p(95)={format_time(values['p(95)'])}"


def _loadgen(data: dict[str, Any]) -> list[str]:
    loadgen = data["loadgen"]
    per_request = loadgen["cpu_us_per_request"]
    cost = f", {per_request:.1f}µs CPU per request" if per_request is not None else ""
    processes = loadgen["processes"]
    lags = [p["loop_lag_ms"] for p in processes]
    lines = [
        "",
        "  █ LOAD GENERATOR",
        "",
        _dots("cpu")
        + f"{loadgen['max_cpu_percent_of_core']:.1f}% of one core (busiest of "
        + f"{len(processes)}){cost}",
        _dots("event-loop lag")
        + f"p50={format_time(max(lag['p50'] for lag in lags))} "
        + f"p99={format_time(max(lag['p99'] for lag in lags))} "
        + f"max={format_time(max(lag['max'] for lag in lags))} "
        + f"(own work p99={format_time(max(lag['own_p99'] for lag in lags))})",
    ]
    lines += [f"    ⚠ {warning}" for warning in loadgen["warnings"]]
    lines += [f"    note: {note}" for note in loadgen.get("notes", [])]
    return lines


def render_summary(data: dict[str, Any]) -> str:
    """The whole end-of-test summary as text (no colours)."""
    window = data["window"]
    lines = [
        "",
        *_header(data),
        *_thresholds(data["metrics"]),
        "",
        "  █ TOTAL RESULTS",
        "",
        *_checks(data),
        *_metrics(data),
        *_errors(data),
        *_window(data),
        *_where_the_time_went(data),
        *_loadgen(data),
        "",
        f"running ({data['state']['testRunDurationMs'] / 1000:.1f}s), "
        f"{data['metrics']['vus_max']['values']['value']} VUs max, "
        f"{window['iterations_completed']} complete and {window['iterations_interrupted']} "
        f"interrupted iterations, {window['dropped_iterations']} dropped"
        + (" (stopped early by a signal)" if window.get("aborted") else ""),
        "",
    ]
    return "\n".join(lines)
