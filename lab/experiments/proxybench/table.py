"""The proxy benchmark's results: one record per wrk run, medians per target, the markdown
table and the report files."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.experiments.proxybench.wrk import WrkResult


@dataclass
class ProxyRun:
    """One wrk run against one target, with the CPU the proxy and the backend spent."""

    target: str
    repeat: int
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int
    proxy_cpu_us: float | None
    backend_cpu_us: float

    @classmethod
    def of(
        cls,
        target: str,
        repeat: int,
        result: WrkResult,
        *,
        proxy_cpu_us: float | None,
        backend_cpu_us: float,
    ) -> ProxyRun:
        return cls(
            target,
            repeat,
            result.rps,
            result.requests,
            result.p50_ms,
            result.p99_ms,
            result.errors,
            proxy_cpu_us,
            backend_cpu_us,
        )


@dataclass
class Summary:
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    added_p50_ms: float | None
    added_p99_ms: float | None
    proxy_cpu_us: float | None
    backend_cpu_us: float
    errors: int
    runs: int
    rps_range: tuple[float, float] = field(default=(0.0, 0.0))
    proxy_cpu_range: tuple[float, float] | None = None


def summarize(runs: Sequence[ProxyRun]) -> list[Summary]:
    """Medians per target, in first-seen order; added latency is relative to ``direct``."""
    order: list[str] = []
    for run in runs:
        if run.target not in order:
            order.append(run.target)
    summaries: list[Summary] = []
    for target in order:
        mine = [r for r in runs if r.target == target]
        cpu = [r.proxy_cpu_us for r in mine if r.proxy_cpu_us is not None]
        rps = [r.rps for r in mine]
        summaries.append(
            Summary(
                target=target,
                rps=statistics.median(rps),
                p50_ms=statistics.median(r.p50_ms for r in mine),
                p99_ms=statistics.median(r.p99_ms for r in mine),
                added_p50_ms=None,
                added_p99_ms=None,
                proxy_cpu_us=statistics.median(cpu) if cpu else None,
                backend_cpu_us=statistics.median(r.backend_cpu_us for r in mine),
                errors=sum(r.errors for r in mine),
                runs=len(mine),
                rps_range=(min(rps), max(rps)),
                proxy_cpu_range=(min(cpu), max(cpu)) if cpu else None,
            )
        )
    direct = next((s for s in summaries if s.target == "direct"), None)
    if direct is not None:
        for summary in summaries:
            if summary is not direct:
                summary.added_p50_ms = summary.p50_ms - direct.p50_ms
                summary.added_p99_ms = summary.p99_ms - direct.p99_ms
    return summaries


def _fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def render_markdown(summaries: Sequence[Summary], settings: dict[str, object]) -> str:
    haproxy = next((s for s in summaries if s.target == "haproxy"), None)
    lines = [
        "| target | req/s (min–max) | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| proxy CPU µs/req (min–max) | vs HAProxy | backend CPU µs/req | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        ratio = "–"
        if haproxy and haproxy.proxy_cpu_us and s.proxy_cpu_us is not None:
            ratio = f"{s.proxy_cpu_us / haproxy.proxy_cpu_us:.2f}×"
        cpu = _fmt(s.proxy_cpu_us)
        if s.proxy_cpu_range is not None:
            cpu += f" ({s.proxy_cpu_range[0]:.1f}–{s.proxy_cpu_range[1]:.1f})"
        lines.append(
            f"| {s.target} | {s.rps:,.0f} ({s.rps_range[0]:,.0f}–{s.rps_range[1]:,.0f}) "
            f"| {s.p50_ms:.2f} | {s.p99_ms:.2f} | {_fmt(s.added_p50_ms, 2, True)} "
            f"| {_fmt(s.added_p99_ms, 2, True)} | {cpu} | {ratio} "
            f"| {s.backend_cpu_us:.1f} | {s.errors} |"
        )
    conditions = ", ".join(f"{k}={v}" for k, v in settings.items())
    lines += ["", f"Medians of the runs per target; {conditions}."]
    return "\n".join(lines) + "\n"


def write_reports(
    folder: Path,
    settings: dict[str, object],
    runs: Sequence[ProxyRun],
    notes: Sequence[str],
) -> str:
    """Write proxy.md and proxy.json into ``folder``; returns the markdown table."""
    summaries = summarize(runs)
    table = render_markdown(summaries, settings)
    report = {
        "settings": settings,
        "python": platform.python_version(),
        "notes": notes,
        "summary": [asdict(s) for s in summaries],
        "runs": [asdict(r) for r in runs],
    }
    (folder / "proxy.md").write_text(
        "# Proxy overhead\n\n" + table + "".join(f"\n- {n}" for n in notes) + "\n"
    )
    (folder / "proxy.json").write_text(json.dumps(report, indent=2) + "\n")
    return table


def settings_of(
    *,
    threads: int,
    connections: int,
    duration: float,
    repeats: int,
    loadavg_before: float,
    balancer_build: str = "",
) -> dict[str, object]:
    """The conditions a report states beside its table."""
    settings: dict[str, object] = {
        "wrk": f"-t{threads} -c{connections}",
        "duration_s": duration,
        "repeats": repeats,
        "cpus": os.cpu_count(),
        "loadavg_before": round(loadavg_before, 2),
    }
    if balancer_build:
        settings["balancer"] = balancer_build
    return settings
