"""The bench on this machine: infrastructure once, then every planned run on a fresh
topology of processes, the bcrypt ceiling measured around each series, and the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lab.errors import CpuLimitUnavailable
from lab.experiments import loadrun
from lab.experiments.bench import assembly
from lab.experiments.bench.config import BenchConfig
from lab.experiments.bench.machine import machine_description
from lab.experiments.bench.measure import (
    Measurements,
    PlannedRun,
    measure_ceiling,
    measure_plan,
    measure_run,
)
from lab.experiments.bench.plan import plan, run_folder, without_cpu_limits
from lab.harness import config, cpulimit, infra, procs
from lab.harness.progress import StatusLine
from lab.harness.topology import Topology, TopologyConfig, limit_exemption
from lab.reporting import ceiling, versions
from lab.reporting.results import Results, Run, Series


@dataclass
class Bench:
    cfg: BenchConfig
    status: StatusLine = field(default_factory=StatusLine)
    host_cores: int = field(default_factory=lambda: len(procs.usable_cpus()))
    #: How instances get their CPU limit; raises CpuLimitUnavailable where the machine cannot.
    limit_cpu: Callable[[float], cpulimit.CpuLimiter] = cpulimit.choose

    def run(self) -> Path:
        cfg = self.cfg
        series_plan = plan(cfg)
        started = datetime.now(UTC)
        stamp = started.strftime("%Y%m%d-%H%M%S")
        run_root = config.state_root() / "runs" / f"bench-{stamp}"
        limiter_method, notes = None, []
        if any(s.cpus_per_instance for s in series_plan):
            try:
                probe = self.limit_cpu(cfg.cpus_per_instance)
            except CpuLimitUnavailable as refused:
                series_plan = without_cpu_limits(series_plan, refused)
                skipped = (
                    f"The CPU-limited series was skipped: {refused}. To get it, run the bench "
                    "as root, or as a user with a cgroup delegated to it, on Linux."
                )
                notes.append(skipped)
                self.status.done(f"bench: {skipped}")
            else:
                limiter_method = probe.method
                probe.cleanup()
        total = sum(len(s.runs) for s in series_plan)
        self.status.done(
            f"bench: {total} runs of {cfg.warmup_s:g} s warm-up + {cfg.duration_s:g} s window, "
            f"bcrypt cost {cfg.bcrypt_cost}; the bcrypt ceiling is measured before and after "
            "each series and the best kept"
        )
        first = series_plan[0].name if series_plan else "the runs"
        first_ceiling = measure_ceiling(cfg, self.status, f"before {first}")
        running = infra.start(config.infra_config())
        try:
            found = measure_plan(
                cfg,
                series_plan,
                first_ceiling,
                one_run=lambda planned: self._one_run(planned, running, run_root),
                status=self.status,
                host_cores=self.host_cores,
                label=lambda spec: spec.label,
                limit_method=limiter_method,
            )
        finally:
            infra_description = running.describe()
            running.stop()
        return self.report(
            found, started=started, infra=infra_description, notes=notes, folder=stamp
        )

    def report(
        self,
        found: Measurements,
        *,
        started: datetime,
        infra: Mapping[str, str],
        notes: Sequence[str],
        folder: str,
        platform: str | None = None,
    ) -> Path:
        """Judge what the runs found, assemble the results and write the report into
        `folder` under the configured reports folder."""
        measured = assembly.Measured(
            started=started,
            finished=datetime.now(UTC),
            machine=machine_description(),
            infra=infra,
            ceilings=found.ceilings,
            notes=notes,
            versions=versions.installed(),
            platform=platform,
        )
        results = assembly.assemble(self.cfg, measured, self.judged(found))
        return write_report(results, self.cfg.out_dir / folder)

    def judged(self, found: Measurements) -> tuple[Series, ...]:
        """The series judged against the best ceiling, each unsound run said."""
        judged = assembly.judged_against_best(
            found.series, ceiling.best(found.ceilings), found.around, self.host_cores
        )
        for line in assembly.unsound_lines(judged):
            self.status.done(line)
        return judged

    def _one_run(self, planned: PlannedRun, running: infra.Infra, run_root: Path) -> Run:
        cfg, spec, run = self.cfg, planned.spec, planned.run
        run_dir = run_root / run_folder(spec, run)
        limiter = self.limit_cpu(spec.cpus_per_instance) if spec.cpus_per_instance else None
        topology = Topology(
            TopologyConfig(
                instances=run.instances,
                balancer=run.balancer,
                database_url=running.database_url,
                redis_url=running.redis_url,
                run_dir=run_dir,
                bcrypt_rounds=cfg.bcrypt_cost,
                limit_exempt=limit_exemption(cfg.limit_exemption),
            ),
            limiter=limiter,
        )
        self.status.update(f"{planned.progress(cfg.repeats)}: starting {run.instances} instance(s)")
        with topology:
            infra_pids = running.component_pids()

            def pids() -> dict[str, int]:
                return {**infra_pids, **topology.component_pids()}

            return measure_run(
                cfg,
                planned,
                target=topology.entry_url,
                sampler=loadrun.process_sampler(pids),
                run_dir=run_dir,
                status=self.status,
            )


def write_report(results: Results, out_dir: Path) -> Path:
    """results.json, the charts, report.md and report.html into `out_dir`; the summary to
    the terminal."""
    from lab.reporting import report

    report.build_report(results, out_dir)
    print(report.render_terminal(results))
    return out_dir
