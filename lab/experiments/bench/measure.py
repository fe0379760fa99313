"""One measured run and one ceiling measurement, as both platforms (processes here, Docker
Swarm) make them once the instances are up: the load generator against `target` while a
sampler records CPU, then the typed run record and its progress line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from lab.experiments import loadrun
from lab.experiments.bench import assembly
from lab.experiments.bench.config import BenchConfig
from lab.experiments.bench.plan import RunSpec, SeriesSpec, run_name
from lab.harness.progress import StatusLine
from lab.reporting import ceiling, records, soundness
from lab.reporting.results import Run, Series


@dataclass(frozen=True, kw_only=True)
class PlannedRun:
    """A run about to be made: its series, where it stands among the bench's runs (`done`
    of `total`), the cores its instances may use and the best ceiling measured so far."""

    spec: SeriesSpec
    run: RunSpec
    done: int
    total: int
    usable_cores: float
    best_ceiling: ceiling.Ceiling

    @property
    def ceiling_iterations_per_s(self) -> float:
        return self.best_ceiling.iterations_per_s(self.usable_cores)

    def progress(self, repeats: int) -> str:
        return f"[{self.done}/{self.total}] {run_name(self.spec, self.run, repeats)}"


@dataclass
class Measurements:
    """What the runs of a plan found: each series, every ceiling measurement in order, and
    for each series the two measured around it."""

    ceilings: list[ceiling.Ceiling]
    series: list[Series] = field(default_factory=list)
    around: dict[str, tuple[ceiling.Ceiling, ...]] = field(default_factory=dict)


def measure_plan(
    cfg: BenchConfig,
    series_plan: Sequence[SeriesSpec],
    first: ceiling.Ceiling,
    *,
    one_run: Callable[[PlannedRun], Run],
    status: StatusLine,
    host_cores: int,
    label: Callable[[SeriesSpec], str],
    limit_method: str | None,
) -> Measurements:
    """Every planned run, made by `one_run` against the best ceiling measured so far, with
    the ceiling measured again after each series; `first` was measured before the first.
    A run that cannot be sound even at that ceiling is warned of before it starts."""
    found = Measurements(ceilings=[first])
    total = sum(len(s.runs) for s in series_plan)
    done = 0
    for spec in series_plan:
        before = found.ceilings[-1]
        runs = []
        for run in spec.runs:
            done += 1
            planned = PlannedRun(
                spec=spec,
                run=run,
                done=done,
                total=total,
                usable_cores=ceiling.usable_cores(
                    spec.cpus_per_instance, run.instances, host_cores
                ),
                best_ceiling=ceiling.best(found.ceilings),
            )
            forecast = soundness.soundness_forecast(
                spec.vus, cfg.duration_s, planned.ceiling_iterations_per_s
            )
            if forecast:
                status.done(f"warning [{run_name(spec, run, cfg.repeats)}]: {forecast}")
            runs.append(one_run(planned))
        # A busy moment lowers a measurement: one after the series as well as the one
        # before it tells whether the machine stayed the same while it ran.
        after = measure_ceiling(cfg, status, f"after {spec.name}")
        found.ceilings.append(after)
        found.around[spec.name] = (before, after)
        found.series.append(
            assembly.series_record(
                cfg,
                spec,
                runs,
                (before, after),
                host_cores=host_cores,
                label=label(spec),
                limit_method=limit_method,
            )
        )
    return found


def measure_ceiling(cfg: BenchConfig, status: StatusLine, taken: str) -> ceiling.Ceiling:
    status.update(f"measuring the bcrypt ceiling {taken}")
    measured = ceiling.measure(cfg.bcrypt_cost, seconds=cfg.ceiling_seconds, taken=taken)
    status.done(
        f"ceiling {taken}: {measured.pairs_per_s_parallel:.2f} hash+verify pairs/s on "
        f"{measured.threads} threads (hash {measured.hash_ms:.1f} ms, verify "
        f"{measured.verify_ms:.1f} ms)"
    )
    return measured


def measure_run(
    cfg: BenchConfig,
    planned: PlannedRun,
    *,
    target: str,
    sampler: loadrun.SamplerFor,
    run_dir: Path,
    status: StatusLine,
) -> Run:
    """Load `target` for the warm-up and the window, and record the run; its efficiency is
    against the best ceiling measured so far."""
    spec, run = planned.spec, planned.run
    progress = planned.progress(cfg.repeats)
    span = cfg.warmup_s + cfg.duration_s

    def tick(elapsed: float) -> None:
        phase = (
            "warm-up"
            if elapsed < cfg.warmup_s
            else "measuring"
            if elapsed < span
            else "graceful stop"
        )
        status.update(
            f"{progress}: {phase} {min(elapsed, span):5.1f}/{span:g} s, "
            f"{spec.vus} VUs, host CPU {psutil.cpu_percent():5.1f} %"
        )

    result, usage, timeline = loadrun.run_load_sampled(
        loadrun.LoadSpec(
            target=target,
            vus=spec.vus,
            duration_s=cfg.duration_s,
            warmup_s=cfg.warmup_s,
            graceful_stop_s=cfg.graceful_stop_s,
            ramp=cfg.ramp,
            processes=cfg.loadgen_processes,
        ),
        sampler=sampler,
        run_dir=run_dir,
        on_tick=tick,
    )
    measured = records.measured_run(
        result,
        topology=run.topology,
        instances=run.instances,
        balancer=run.balancer,
        repeat=run.repeat,
        cpu=usage.to_dict(),
        ceiling_iterations_per_s=planned.ceiling_iterations_per_s,
        cpu_timeline=timeline,
        usable_cores=planned.usable_cores,
    )
    # Efficiency and soundness are judged again against the best ceiling of the whole
    # run once it is over; this line says so rather than state a final verdict early.
    verdict = "sound so far" if measured.sound else "UNSOUND"
    status.done(
        f"{progress}: {measured.req_per_s:.2f} req/s, "
        f"{measured.iterations_per_s:.2f} it/s (efficiency {measured.efficiency or 0.0:.2f} "
        f"against the best ceiling yet), avg {measured.http_req_duration.avg:.0f} ms, "
        f"failed {measured.http_req_failed_rate * 100:.2f} %, {verdict}"
    )
    return measured
