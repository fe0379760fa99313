"""Which runs a bench makes, in which order: the series, their topologies and repeats
(pure)."""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import CpuLimitUnavailable
from lab.experiments.bench.config import TOPOLOGIES, BenchConfig


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    series: str
    topology: str
    instances: int
    balancer: bool
    repeat: int


@dataclass(frozen=True, kw_only=True)
class SeriesSpec:
    name: str
    label: str
    vus: int
    cpus_per_instance: float | None
    runs: tuple[RunSpec, ...]


def run_name(spec: SeriesSpec, run: RunSpec, repeats: int) -> str:
    """How progress lines name a run: series/topology, and #repeat when there are several."""
    return f"{spec.name}/{run.topology}" + (f"#{run.repeat + 1}" if repeats > 1 else "")


def run_folder(spec: SeriesSpec, run: RunSpec) -> str:
    """The run's folder under the bench's state folder (logs, the load generator's JSON)."""
    return f"{spec.name}-{run.topology}-{run.repeat}"


def plan(cfg: BenchConfig) -> list[SeriesSpec]:
    """The runs to make, in order (pure)."""
    if cfg.scale:
        return [_scale_series(cfg)]
    out = []
    for series in cfg.series:
        name = "shared-host" if series == "shared" else "cpu-limited"
        runs = tuple(
            RunSpec(
                series=name,
                topology=topology,
                instances=TOPOLOGIES[topology][0] or cfg.instances,
                balancer=TOPOLOGIES[topology][1],
                repeat=r,
            )
            for topology in cfg.topologies
            for r in range(cfg.repeats)
        )
        if series == "shared":
            out.append(
                SeriesSpec(
                    name=name,
                    label="shared host (no CPU limits)",
                    vus=cfg.vus,
                    cpus_per_instance=None,
                    runs=runs,
                )
            )
        else:
            out.append(
                SeriesSpec(
                    name=name,
                    # Short: it titles charts. The report explains what the quota emulates.
                    label=f"{cfg.cpus_per_instance:g} CPU per instance",
                    vus=cfg.limited_vus,
                    cpus_per_instance=cfg.cpus_per_instance,
                    runs=runs,
                )
            )
    return out


def _scale_series(cfg: BenchConfig) -> SeriesSpec:
    runs = tuple(
        RunSpec(series="cpu-limited", topology=f"scale-{n}", instances=n, balancer=True, repeat=r)
        for n in range(1, cfg.scale_max + 1)
        for r in range(cfg.repeats)
    )
    return SeriesSpec(
        name="cpu-limited",
        label=f"{cfg.cpus_per_instance:g} CPU per instance, 1…{cfg.scale_max} instances",
        vus=cfg.limited_vus,
        cpus_per_instance=cfg.cpus_per_instance,
        runs=runs,
    )


def without_cpu_limits(
    series_plan: list[SeriesSpec], refused: CpuLimitUnavailable
) -> list[SeriesSpec]:
    """The plan less its CPU-limited series, for a machine that cannot limit CPU; the refusal
    itself when nothing would be left to run (pure)."""
    kept = [spec for spec in series_plan if not spec.cpus_per_instance]
    if not kept:
        raise refused
    return kept
