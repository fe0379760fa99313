"""A bench's measurements → its typed `Results`: each series with its runs, every run judged
again against the best ceiling once all are in, the parameters and the scale curve (pure)."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime

from lab.experiments.bench.config import BenchConfig
from lab.experiments.bench.plan import SeriesSpec
from lab.harness.topology import limit_exemption
from lab.reporting import ceiling, records
from lab.reporting.results import (
    SCHEMA,
    Machine,
    Parameters,
    Results,
    Run,
    ScaleCurve,
    ScalePoint,
    Series,
)


def series_record(
    cfg: BenchConfig,
    spec: SeriesSpec,
    runs: Sequence[Run],
    around: tuple[ceiling.Ceiling, ceiling.Ceiling],
    *,
    host_cores: int,
    label: str,
    limit_method: str | None,
) -> Series:
    """One series as measured; `around` holds the ceilings measured before and after it,
    `limit_method` how its instances were held to their quota (when they had one)."""
    shared = spec.cpus_per_instance is None
    return Series(
        name=spec.name,
        label=label,
        cpus_per_instance=spec.cpus_per_instance,
        limit_method=None if shared else limit_method,
        usable_cores=float(host_cores) if shared else None,
        ceiling_iterations_per_s=None,
        # As in the ceiling's document, so the two can be compared.
        ceiling_pairs_per_s=tuple(round(c.pairs_per_s_parallel, 4) for c in around),
        vus=spec.vus,
        bcrypt_cost=cfg.bcrypt_cost,
        runs=tuple(runs),
    )


def judged_against_best(
    series: Sequence[Series],
    kept: ceiling.Ceiling,
    around: Mapping[str, Sequence[ceiling.Ceiling]],
    host_cores: int,
) -> tuple[Series, ...]:
    """Every run's efficiency against the best ceiling; unsound where it cannot hold,
    including when that ceiling or one measured around its series was taken while the
    machine was busy."""
    out = []
    for one in series:
        runs = tuple(
            records.judged_against_ceiling(
                run,
                ceiling_iterations_per_s=kept.iterations_per_s(
                    one.usable_cores_for(run, host_cores) or 0.0
                ),
                series_pairs_per_s=one.ceiling_pairs_per_s,
                ceilings=(kept, *around.get(one.name, ())),
            )
            for run in one.runs
        )
        shared_ceiling = (
            kept.iterations_per_s(host_cores)
            if one.cpus_per_instance is None
            else one.ceiling_iterations_per_s
        )
        out.append(dataclasses.replace(one, runs=runs, ceiling_iterations_per_s=shared_ceiling))
    return tuple(out)


def unsound_lines(series: Sequence[Series]) -> list[str]:
    """A line for every unsound run, saying why."""
    return [
        f"{one.name}/{run.topology} (repeat {run.repeat + 1}) is unsound: "
        + "; ".join(run.unsound_reasons)
        for one in series
        for run in one.runs
        if not run.sound
    ]


def parameters(cfg: BenchConfig) -> Parameters:
    return Parameters(
        vus=cfg.vus,
        duration_s=float(cfg.duration_s),
        warmup_s=float(cfg.warmup_s),
        graceful_stop_s=float(cfg.graceful_stop_s),
        bcrypt_cost=cfg.bcrypt_cost,
        repeats=cfg.repeats,
        limited_vus=cfg.limited_vus,
        vus_ramped_over_warmup=cfg.ramp,
        instances=cfg.instances,
        cpus_per_instance=float(cfg.cpus_per_instance),
        rate_limit_exempt=", ".join(limit_exemption(cfg.limit_exemption)) or "none",
    )


def scale_curve(cfg: BenchConfig, series: Sequence[Series]) -> ScaleCurve | None:
    """Throughput by instance count (medians of the repeats) of a `bench-scale` run."""
    if not cfg.scale or not series:
        return None
    by_n: dict[int, list[Run]] = {}
    for run in series[0].runs:
        by_n.setdefault(run.instances, []).append(run)
    return ScaleCurve(
        series=series[0].name,
        cpus_per_instance=float(cfg.cpus_per_instance),
        points=tuple(
            ScalePoint(
                instances=n,
                iterations_per_s=float(statistics.median(r.iterations_per_s for r in rs)),
                req_per_s=float(statistics.median(r.req_per_s for r in rs)),
            )
            for n, rs in sorted(by_n.items())
        ),
    )


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Measured:
    """What a bench found, beside the series: the machine, the infrastructure, every
    ceiling measurement, and what it changed from what was asked."""

    started: datetime
    finished: datetime
    machine: Machine
    infra: Mapping[str, str]
    ceilings: Sequence[ceiling.Ceiling]
    notes: Sequence[str] = ()
    versions: Mapping[str, str]
    platform: str | None = None


def assemble(cfg: BenchConfig, measured: Measured, series: Sequence[Series]) -> Results:
    return Results(
        schema=SCHEMA,
        started_at=_stamp(measured.started),
        finished_at=_stamp(measured.finished),
        command=cfg.command,
        machine=measured.machine,
        infra=dict(measured.infra),
        parameters=parameters(cfg),
        ceiling=ceiling.kept(measured.ceilings),
        series=tuple(series),
        scale_curve=scale_curve(cfg, series),
        notes=tuple(measured.notes),
        versions=dict(measured.versions),
        platform=measured.platform,
    )
