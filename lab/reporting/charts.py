"""The report's charts, as PNG files drawn with matplotlib's Agg renderer (no display needed).

Each function draws one figure from the results and returns a `Chart` naming its file. Figures
are built on `matplotlib.figure.Figure` directly, not pyplot, so no global state is touched
and charts can be drawn from any thread.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from lab.reporting import mission
from lab.reporting.breakdown import SEGMENT_LABELS, SEGMENTS
from lab.reporting.fit import fit_models
from lab.reporting.page import change, figure
from lab.reporting.results import Results, Run, ScaleCurve, Series
from lab.reporting.verdict.classify import compared

#: One colour per topology and per component, the same in every chart.
TOPOLOGY_COLOURS = {"single": "#1f77b4", "single+lb": "#ff7f0e", "scaled": "#2ca02c"}
COMPONENT_COLOURS = {
    "service": "#4c72b0",
    "balancer": "#dd8452",
    "postgres": "#55a868",
    "redis": "#c44e52",
    "loadgen": "#8172b3",
    "other": "#bbbbbb",
}
#: Where the time went: waiting in warm colours, work in cool ones, the rest grey.
SEGMENT_COLOURS = {
    "hash_wait": "#e8a33d",
    "hash": "#c44e52",
    "db": "#55a868",
    "redis": "#8c564b",
    "jwt": "#8172b3",
    "other_app": "#bcbd22",
    "balancer": "#17becf",
    "remainder": "#bbbbbb",
}
PERCENTILES = (("p50", "med"), ("p95", "p95"), ("p99", "p99"))
DPI = 110


@dataclass(frozen=True, kw_only=True)
class Chart:
    kind: str
    title: str
    path: Path


def render_charts(results: Results, out_dir: Path) -> list[Chart]:
    """Every chart the results support, written into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts: list[Chart] = []
    if any(compared(s.medians()) for s in results.series if s.runs):
        charts.append(headline_chart(results, out_dir / "headline.png"))
    for series in results.series:
        name = slug(series.name)
        charts.append(throughput_chart(series, out_dir / f"throughput-{name}.png"))
        charts.append(latency_chart(series, out_dir / f"latency-{name}.png"))
        if any(r.where_the_time_went for r in series.runs):
            charts.append(time_chart(series, out_dir / f"time-{name}.png"))
    if results.series:
        charts.append(cpu_chart(results.series, out_dir / "cpu.png"))
    if results.scale_curve is not None and results.scale_curve.points:
        charts.append(scale_chart(results.scale_curve, out_dir / "scale-out.png"))
    return charts


def headline_chart(results: Results, path: Path) -> Chart:
    """The answer in one picture: req/s of one instance beside the most, for the original
    experiment and for each series measured here, with the change above each pair."""
    title = "Does adding instances add throughput? req/s, one instance vs more"
    groups: list[tuple[str, int, float, int, float]] = [
        (
            f"the original: Docker Swarm ({mission.ORIGINAL_SETTING})",
            mission.ORIGINAL_CONTAINERS[0],
            mission.ORIGINAL_REQ_PER_S[0],
            mission.ORIGINAL_CONTAINERS[1],
            mission.ORIGINAL_REQ_PER_S[1],
        )
    ]
    for series in results.series:
        medians = series.medians()
        pair = compared(medians) if series.runs else None
        if pair is None:
            continue
        one, more = medians[pair[0]], medians[pair[1]]
        label = f"here, {series.label} ({series.vus} VUs, bcrypt cost {series.bcrypt_cost})"
        groups.append((label, one.instances, one.req_per_s, more.instances, more.req_per_s))
    fig = Figure(figsize=(3.2 * len(groups) + 1.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    width = 0.38
    top = max(max(g[2], g[4]) for g in groups)
    shades = ("#9ecae1", "#2171b5")
    for i, (_, n1, r1, n2, r2) in enumerate(groups):
        for offset, n, rate, colour in ((-1, n1, r1, shades[0]), (1, n2, r2, shades[1])):
            centre = x[i] + offset * width / 2
            ax.bar(centre, rate, width, color=colour)
            ax.text(centre, rate, figure(rate, 2), ha="center", va="bottom", fontsize="small")
            ax.text(centre, top * 0.01, str(n), ha="center", va="bottom", color="white")
        ratio = f"{change(r1, r2)} ({figure(r2 / r1, 2)}×)" if r1 else "n/a"
        ax.text(x[i], max(r1, r2) + top * 0.08, ratio, ha="center", weight="bold")
    ax.set_xticks(x, [textwrap.fill(g[0], 26) for g in groups])
    ax.set(title=title, ylabel="requests/s")
    ax.set_ylim(0, top * 1.25)
    legend = [
        Patch(color=shades[0], label="one instance"),
        Patch(color=shades[1], label="more instances (how many: at the foot of the bar)"),
    ]
    ax.legend(handles=legend, fontsize="small", loc="upper right")
    return _save(fig, path, kind="headline", title=title)


def time_chart(series: Series, path: Path) -> Chart:
    """Where each step's time went, one panel per topology: each bar is the step's average
    client duration split into the servers' phases, as shares, with the total beside it
    (steps differ a hundredfold, so shares keep the short ones readable)."""
    title = f"{series.label}: where each step's time went (share of its average latency)"
    medians = {t: r for t, r in series.medians().items() if r.where_the_time_went}
    fig = Figure(figsize=(9, 1.1 + 1.9 * len(medians)), layout="constrained")
    axes = fig.subplots(len(medians), 1, sharex=True, squeeze=False)[:, 0]
    present = [
        s
        for s in SEGMENTS
        if any(
            st.segments_ms.get(s) for r in medians.values() for st in r.where_the_time_went.values()
        )
    ]
    for ax, (topology, run) in zip(axes, medians.items(), strict=True):
        steps = list(run.where_the_time_went)
        y = np.arange(len(steps))
        left = np.zeros(len(steps))
        for segment in present:
            shares = np.array([run.where_the_time_went[s].share(segment) or 0.0 for s in steps])
            ax.barh(
                y,
                shares,
                left=left,
                color=SEGMENT_COLOURS[segment],
                label=SEGMENT_LABELS[segment],
            )
            left += shares
        for i, step in enumerate(steps):
            ax.text(
                1.01,
                i,
                _duration(run.where_the_time_went[step].duration_ms),
                va="center",
                fontsize="small",
            )
        ax.set_yticks(y, steps)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.set_title(topology, loc="left", fontsize="medium")
    axes[-1].set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25 %", "50 %", "75 %", "100 %"])
    axes[-1].set_xlabel("share of the step's average latency (average in ms or s at the right)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize="small")
    fig.suptitle(title)
    return _save(fig, path, kind="time", title=title)


def _duration(ms: float) -> str:
    return f"{figure(ms / 1000, 2)} s" if ms >= 1000 else f"{figure(ms, 1)} ms"


def throughput_chart(series: Series, path: Path) -> Chart:
    """Requests per second, second by second, one line per topology."""
    title = f"{series.label}: req/s over the measured window"
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    for topology, run in series.medians().items():
        colour = TOPOLOGY_COLOURS.get(topology)
        if run.timeseries:
            t = [p.t for p in run.timeseries]
            ax.plot(t, [p.reqs for p in run.timeseries], label=topology, color=colour)
        ax.axhline(run.req_per_s, linestyle="--", linewidth=0.8, color=colour)
    ax.set(title=title, xlabel="seconds into the window", ylabel="requests/s")
    ax.set_ylim(bottom=0)
    _legend(ax)
    return _save(fig, path, kind="throughput", title=title)


def latency_chart(series: Series, path: Path) -> Chart:
    """p50/p95/p99 of each step, one panel per topology, on a log scale (steps differ 100×)
    unless no latency is above zero."""
    title = f"{series.label}: latency per step"
    medians = series.medians()
    log = any(
        getattr(step.http_req_duration, key) > 0
        for run in medians.values()
        for step in run.steps.values()
        for _, key in PERCENTILES
    )
    fig = Figure(figsize=(4 * max(1, len(medians)), 4), layout="constrained")
    axes = fig.subplots(1, max(1, len(medians)), sharey=True, squeeze=False)[0]
    for ax, (topology, run) in zip(axes, medians.items(), strict=False):
        steps = list(run.steps)
        x = np.arange(len(steps))
        width = 0.8 / len(PERCENTILES)
        for i, (label, key) in enumerate(PERCENTILES):
            values = [getattr(run.steps[s].http_req_duration, key) for s in steps]
            ax.bar(x + (i - 1) * width, values, width, label=label)
        ax.set_xticks(x, steps)
        ax.set_title(topology)
        if log:
            ax.set_yscale("log")
    axes[0].set_ylabel("ms (log scale)" if log else "ms")
    _legend(axes[0])
    fig.suptitle(title)
    return _save(fig, path, kind="latency", title=title)


def cpu_chart(series_list: Sequence[Series], path: Path) -> Chart:
    """CPU seconds over the window by component, stacked per topology, one panel per series."""
    title = "CPU seconds by component"
    fig = Figure(figsize=(max(7.0, 4.5 * len(series_list)), 4.5), layout="constrained")
    axes = fig.subplots(1, len(series_list), squeeze=False)[0]
    for ax, series in zip(axes, series_list, strict=True):
        medians = series.medians()
        names = list(medians)
        stacks = {c: [_component_seconds(medians[t], c) for t in names] for c in COMPONENT_COLOURS}
        bottom = np.zeros(len(names))
        for component, values in stacks.items():
            if any(values):
                colour = COMPONENT_COLOURS[component]
                ax.bar(names, values, bottom=bottom, label=component, color=colour)
                bottom += np.asarray(values)
        windows = sorted({figure(r.window_s, 0) for r in medians.values()})
        ax.set(title=f"{series.label}\n(window {', '.join(windows)} s)", ylabel="CPU seconds")
    handles: dict[str, Artist] = {}
    for ax in axes:
        handles.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    if handles:
        columns = min(len(handles), 6 if len(series_list) > 1 else 3)
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=columns)
    fig.suptitle(title)
    return _save(fig, path, kind="cpu", title=title)


def scale_chart(curve: ScaleCurve, path: Path) -> Chart:
    """Measured iterations/s per instance count, linear scaling, and the fitted models."""
    title = f"Scale-out: {curve.series}" + (
        f", {figure(curve.cpus_per_instance)} CPU per instance"
        if curve.cpus_per_instance is not None
        else ""
    )
    n = np.array([p.instances for p in curve.points], dtype=float)
    x = np.array([p.iterations_per_s for p in curve.points])
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    models = list(fit_models(n, x).values())
    reach = max(
        [n.max() * 1.5] + [min((m.peak_instances or 0.0) * 1.3, n.max() * 4) for m in models]
    )
    end = max(reach, 2.0)
    dense = np.linspace(1.0, end, 200)
    first = x[np.argmin(n)] / n.min()
    ax.plot(dense, first * dense, linestyle=":", color="grey", label="linear")
    # Solid where points were measured, dashed beyond the last one: the fit is a guess there.
    last = float(n.max())
    inside = np.linspace(1.0, last, 100)
    beyond = np.linspace(last, end, 100)
    for model, colour in zip(models, ("#1f77b4", "#d62728"), strict=False):
        label = f"{'Amdahl' if model.model == 'amdahl' else 'USL'} σ={figure(model.sigma, 4)}"
        if model.model == "usl":
            label += f" κ={figure(model.kappa, 5)}"
        ax.plot(inside, model.predict(inside), color=colour, label=label)
        if end > last:
            ax.plot(beyond, model.predict(beyond), color=colour, linestyle="--")
    if models and end > last:
        ax.axvspan(last, end, color="#f0f0f0", zorder=0)
        ax.text(
            (last + end) / 2,
            0.03,
            f"extrapolated (dashed): beyond the {figure(last, 0)} instances measured",
            transform=ax.get_xaxis_transform(),
            ha="center",
            color="#555555",
            fontsize="small",
        )
    ax.plot(n, x, "o", color="black", label="measured")
    ax.set(title=title, xlabel="instances", ylabel="iterations/s")
    shown = [float(x.max())] + [float(np.max(m.predict(dense))) for m in models]
    ax.set_ylim(0, max(shown) * 1.15)
    _legend(ax)
    return _save(fig, path, kind="scale", title=title)


def _component_seconds(run: Run, component: str) -> float:
    if component == "service":
        return run.service_cpu_seconds
    if component == "other":
        return max(0.0, run.host.cpu_seconds_busy - sum(run.cpu_seconds.values()))
    return run.cpu_seconds.get(component, 0.0)


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize="small")


def _save(fig: Figure, path: Path, *, kind: str, title: str) -> Chart:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return Chart(kind=kind, title=title, path=path)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "series"
