"""The report's charts, as PNG files drawn with matplotlib's Agg renderer (no display needed).

Each function draws one figure from the results and returns a `Chart` naming its file. Figures
are built on `matplotlib.figure.Figure` directly, not pyplot, so no global state is touched
and charts can be drawn from any thread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab.fit import fit_models
from lab.page import figure
from lab.results import Results, Run, ScaleCurve, Series

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
    for series in results.series:
        slug = _slug(series.name)
        charts.append(throughput_chart(series, out_dir / f"throughput-{slug}.png"))
        charts.append(latency_chart(series, out_dir / f"latency-{slug}.png"))
    if results.series:
        charts.append(cpu_chart(results.series, out_dir / "cpu.png"))
    if results.scale_curve is not None and results.scale_curve.points:
        charts.append(scale_chart(results.scale_curve, out_dir / "scale-out.png"))
    return charts


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
    dense = np.linspace(1.0, max(reach, 2.0), 200)
    first = x[np.argmin(n)] / n.min()
    ax.plot(dense, first * dense, linestyle=":", color="grey", label="linear")
    for model, style in zip(models, ("--", "-"), strict=False):
        label = f"{'Amdahl' if model.model == 'amdahl' else 'USL'} σ={figure(model.sigma, 4)}"
        if model.model == "usl":
            label += f" κ={figure(model.kappa, 5)}"
        ax.plot(dense, model.predict(dense), linestyle=style, label=label)
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


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "series"
