"""`make bench` / `python -m lab bench`: the scale-out experiment, measured and explained.

Two series of three topologies each: on the shared host with the original parameters
(200 VUs, bcrypt cost 10), then with a CPU quota per instance so that every instance behaves
like a machine of its own. `bench-scale` measures 1…N instances under such quotas and fits
Amdahl's law and the Universal Scalability Law to the curve.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from authscale.argparsing import ArgumentParser
from lab import flags
from lab.errors import CpuLimitUnavailable, LabError
from lab.experiments import loadrun
from lab.harness import config, cpulimit, infra, procs
from lab.harness.progress import StatusLine
from lab.harness.signals import interrupt_on_sigterm
from lab.harness.topology import (
    Topology,
    TopologyConfig,
    add_exemption_flag,
    describe_exemption,
    limit_exemption,
)
from lab.reporting import ceiling, records, versions
from loadgen.config import parse_duration
from loadgen.errors import LoadgenError

TOPOLOGIES: dict[str, tuple[int | None, bool]] = {
    # name: (instances — None means the --instances option —, behind the balancer)
    "single": (1, False),
    "single+lb": (1, True),
    "scaled": (None, True),
}


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    series: str
    topology: str
    instances: int
    balancer: bool
    repeat: int


#: The --help texts; they name no program, since the same parser serves `authscale lab bench`
#: and `python -m lab bench`.
BENCH_DESCRIPTION = (
    "The scale-out experiment, measured and explained: on the shared host with the "
    "original's parameters (200 VUs, bcrypt cost 10), then with a CPU quota per instance so "
    "that every instance behaves like a machine of its own; one series of single, single+lb "
    "and scaled each. Writes report.md, report.html and results.json."
)
SCALE_DESCRIPTION = (
    "1…N instances under a CPU quota each, with Amdahl's law and the Universal Scalability "
    "Law fitted to the curve. Writes report.md, report.html and results.json."
)


@dataclass(frozen=True, kw_only=True)
class SeriesSpec:
    name: str
    label: str
    vus: int
    cpus_per_instance: float | None
    runs: tuple[RunSpec, ...]


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    vus: int = 200
    limited_vus: int = 40
    duration_s: float = 60.0
    warmup_s: float = 15.0
    graceful_stop_s: float = 30.0
    ramp: bool = True
    bcrypt_cost: int = 10
    repeats: int = 1
    instances: int = 3
    cpus_per_instance: float = 0.5
    series: tuple[str, ...] = ("shared", "limited")
    topologies: tuple[str, ...] = ("single", "single+lb", "scaled")
    scale_max: int = 4
    scale: bool = False
    out_dir: Path = Path("reports")
    loadgen_processes: int = 1
    ceiling_seconds: float = 3.0
    command: str = ""
    #: Exempt the loopback load generator from the services' per-address limits.
    limit_exemption: bool = True

    def __post_init__(self) -> None:
        if self.vus < 1 or self.limited_vus < 1:
            raise ValueError("VUs must be at least 1")
        if self.duration_s <= 0:
            raise ValueError("the window must be longer than 0 s")
        if self.repeats < 1:
            raise ValueError("--repeats must be at least 1")
        if self.instances < 1 or self.scale_max < 1:
            raise ValueError("instance counts must be at least 1")
        if self.instances < 2 and "scaled" in self.topologies and not self.scale:
            raise ValueError(
                "--instances must be at least 2 for the scaled topology: one instance behind "
                "the balancer is single+lb"
            )
        if self.bcrypt_cost not in flags.BCRYPT_COSTS:
            raise ValueError(f"--bcrypt-rounds must be within 4..31, got {self.bcrypt_cost}")
        unknown = set(self.topologies) - set(TOPOLOGIES)
        if unknown:
            raise ValueError(f"unknown topologies {sorted(unknown)}; known: {list(TOPOLOGIES)}")
        if set(self.series) - {"shared", "limited"}:
            raise ValueError("--series takes shared and/or limited")
        if self.cpus_per_instance <= 0:
            raise ValueError(
                f"--cpus-per-instance must be positive, got {self.cpus_per_instance:g}"
            )


def plan(cfg: BenchConfig) -> list[SeriesSpec]:
    """The runs to make, in order (pure)."""
    out = []
    if cfg.scale:
        runs = tuple(
            RunSpec(
                series="cpu-limited", topology=f"scale-{n}", instances=n, balancer=True, repeat=r
            )
            for n in range(1, cfg.scale_max + 1)
            for r in range(cfg.repeats)
        )
        return [
            SeriesSpec(
                name="cpu-limited",
                label=f"{cfg.cpus_per_instance:g} CPU per instance, 1…{cfg.scale_max} instances",
                vus=cfg.limited_vus,
                cpus_per_instance=cfg.cpus_per_instance,
                runs=runs,
            )
        ]
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


def without_cpu_limits(
    series_plan: list[SeriesSpec], refused: CpuLimitUnavailable
) -> list[SeriesSpec]:
    """The plan less its CPU-limited series, for a machine that cannot limit CPU; the refusal
    itself when nothing would be left to run (pure)."""
    kept = [spec for spec in series_plan if not spec.cpus_per_instance]
    if not kept:
        raise refused
    return kept


def usable_cores(spec: SeriesSpec, run: RunSpec, host_cores: int) -> float:
    if spec.cpus_per_instance is None:
        return float(host_cores)
    return min(float(host_cores), spec.cpus_per_instance * run.instances)


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
        total = sum(len(s.runs) for s in series_plan)
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
                total = sum(len(s.runs) for s in series_plan)
            else:
                limiter_method = probe.method
                probe.cleanup()
        self.status.done(
            f"bench: {total} runs of {cfg.warmup_s:g} s warm-up + {cfg.duration_s:g} s window, "
            f"bcrypt cost {cfg.bcrypt_cost}; the bcrypt ceiling is measured before and after "
            "each series and the best kept"
        )
        first = series_plan[0].name if series_plan else "the runs"
        measurements = [self._measure_ceiling(f"before {first}")]
        running = infra.start(config.infra_config())
        series_out: list[dict[str, Any]] = []
        around: dict[str, tuple[ceiling.Ceiling, ...]] = {}
        done = 0
        try:
            for spec in series_plan:
                before = measurements[-1]
                runs_out = []
                for run in spec.runs:
                    done += 1
                    runs_out.append(
                        self._one_run(
                            spec, run, running, ceiling.best(measurements), run_root, done, total
                        )
                    )
                # A busy moment lowers a measurement: one after the series as well as the
                # one before it tells whether the machine stayed the same while it ran.
                measurements.append(self._measure_ceiling(f"after {spec.name}"))
                around[spec.name] = (before, measurements[-1])
                series_out.append(
                    {
                        "name": spec.name,
                        "label": spec.label,
                        "cpus_per_instance": spec.cpus_per_instance,
                        "limit_method": limiter_method if spec.cpus_per_instance else None,
                        "usable_cores": float(self.host_cores)
                        if spec.cpus_per_instance is None
                        else None,
                        "ceiling_iterations_per_s": None,
                        # As in the ceiling's document, so the two can be compared.
                        "ceiling_pairs_per_s": [
                            round(before.pairs_per_s_parallel, 4),
                            round(measurements[-1].pairs_per_s_parallel, 4),
                        ],
                        "vus": spec.vus,
                        "bcrypt_cost": cfg.bcrypt_cost,
                        "runs": runs_out,
                    }
                )
        finally:
            infra_description = running.describe()
            running.stop()
        self._judge_against_best(series_out, ceiling.best(measurements), around)
        results = self._results(started, measurements, infra_description, series_out, notes)
        return self._report(results, stamp)

    def _measure_ceiling(self, taken: str) -> ceiling.Ceiling:
        self.status.update(f"measuring the bcrypt ceiling {taken}")
        measured = ceiling.measure(
            self.cfg.bcrypt_cost, seconds=self.cfg.ceiling_seconds, taken=taken
        )
        self.status.done(
            f"ceiling {taken}: {measured.pairs_per_s_parallel:.2f} hash+verify pairs/s on "
            f"{measured.threads} threads (hash {measured.hash_ms:.1f} ms, verify "
            f"{measured.verify_ms:.1f} ms)"
        )
        return measured

    def _judge_against_best(
        self,
        series_out: list[dict[str, Any]],
        kept: ceiling.Ceiling,
        around: Mapping[str, Sequence[ceiling.Ceiling]] | None = None,
    ) -> None:
        """Every run's efficiency against the best ceiling; unsound where it cannot hold,
        including when that ceiling or one measured around its series was taken while the
        machine was busy."""
        for series in series_out:
            if series["cpus_per_instance"] is None:
                series["ceiling_iterations_per_s"] = kept.iterations_per_s(self.host_cores)
            judged = [
                records.judged_against_ceiling(
                    run,
                    ceiling_iterations_per_s=kept.iterations_per_s(run["usable_cores"]),
                    series_pairs_per_s=series["ceiling_pairs_per_s"],
                    ceilings=(kept, *(around or {}).get(series["name"], ())),
                )
                for run in series["runs"]
            ]
            for run in judged:
                if run["sound"]:
                    continue
                self.status.done(
                    f"{series['name']}/{run['topology']} (repeat {run['repeat'] + 1}) is unsound: "
                    + "; ".join(run["unsound_reasons"])
                )
            series["runs"] = judged

    def _one_run(
        self,
        spec: SeriesSpec,
        run: RunSpec,
        running: infra.Infra,
        the_ceiling: ceiling.Ceiling,
        run_root: Path,
        done: int,
        total: int,
    ) -> dict[str, Any]:
        cfg = self.cfg
        cores = usable_cores(spec, run, self.host_cores)
        run_ceiling = the_ceiling.iterations_per_s(cores)
        name = f"{spec.name}/{run.topology}" + (f"#{run.repeat + 1}" if cfg.repeats > 1 else "")
        forecast = records.soundness_forecast(spec.vus, cfg.duration_s, run_ceiling)
        if forecast:
            self.status.done(f"warning [{name}]: {forecast}")
        run_dir = run_root / f"{spec.name}-{run.topology}-{run.repeat}"
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
        self.status.update(f"[{done}/{total}] {name}: starting {run.instances} instance(s)")
        with topology:
            infra_pids = running.component_pids()

            def pids() -> dict[str, int]:
                return {**infra_pids, **topology.component_pids()}

            span = cfg.warmup_s + cfg.duration_s

            def tick(elapsed: float) -> None:
                phase = (
                    "warm-up"
                    if elapsed < cfg.warmup_s
                    else "measuring"
                    if elapsed < span
                    else "graceful stop"
                )
                self.status.update(
                    f"[{done}/{total}] {name}: {phase} {min(elapsed, span):5.1f}/{span:g} s, "
                    f"{spec.vus} VUs, host CPU {psutil.cpu_percent():5.1f} %"
                )

            result, usage, timeline = loadrun.run_load(
                loadrun.LoadSpec(
                    target=topology.entry_url,
                    vus=spec.vus,
                    duration_s=cfg.duration_s,
                    warmup_s=cfg.warmup_s,
                    graceful_stop_s=cfg.graceful_stop_s,
                    ramp=cfg.ramp,
                    processes=cfg.loadgen_processes,
                ),
                pids=pids,
                run_dir=run_dir,
                on_tick=tick,
            )
        record = records.run_record(
            result,
            topology=run.topology,
            instances=run.instances,
            balancer=run.balancer,
            repeat=run.repeat,
            cpu=usage.to_dict(),
            ceiling_iterations_per_s=run_ceiling,
            cpu_timeline=timeline,
        )
        record["usable_cores"] = cores
        # Efficiency and soundness are judged again against the best ceiling of the whole
        # run once it is over; this line says so rather than state a final verdict early.
        verdict = "sound so far" if record["sound"] else "UNSOUND"
        self.status.done(
            f"[{done}/{total}] {name}: {record['req_per_s']:.2f} req/s, "
            f"{record['iterations_per_s']:.2f} it/s (efficiency {record['efficiency']:.2f} "
            f"against the best ceiling yet), avg {record['http_req_duration']['avg']:.0f} ms, "
            f"failed {record['http_req_failed_rate'] * 100:.2f} %, {verdict}"
        )
        return record

    def _results(
        self,
        started: datetime,
        ceilings: list[ceiling.Ceiling],
        infra_description: dict[str, str],
        series_out: list[dict[str, Any]],
        notes: list[str],
    ) -> dict[str, Any]:
        cfg = self.cfg
        results: dict[str, Any] = {
            "schema": 1,
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "finished_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "command": cfg.command,
            "machine": machine_description(),
            "infra": infra_description,
            "parameters": {
                "vus": cfg.vus,
                "limited_vus": cfg.limited_vus,
                "duration_s": cfg.duration_s,
                "warmup_s": cfg.warmup_s,
                "graceful_stop_s": cfg.graceful_stop_s,
                "vus_ramped_over_warmup": cfg.ramp,
                "bcrypt_cost": cfg.bcrypt_cost,
                "repeats": cfg.repeats,
                "instances": cfg.instances,
                "cpus_per_instance": cfg.cpus_per_instance,
                "rate_limit_exempt": ", ".join(limit_exemption(cfg.limit_exemption)) or "none",
            },
            "ceiling": ceiling.document(ceilings),
            "series": series_out,
            "scale_curve": None,
            "notes": notes,
            "versions": versions.installed(),
        }
        if cfg.scale and series_out:
            by_n: dict[int, list[dict[str, Any]]] = {}
            for run in series_out[0]["runs"]:
                by_n.setdefault(int(run["instances"]), []).append(run)
            results["scale_curve"] = {
                "series": series_out[0]["name"],
                "cpus_per_instance": cfg.cpus_per_instance,
                "points": [
                    {
                        "instances": n,
                        "iterations_per_s": statistics.median(r["iterations_per_s"] for r in rs),
                        "req_per_s": statistics.median(r["req_per_s"] for r in rs),
                    }
                    for n, rs in sorted(by_n.items())
                ],
            }
        return results

    def _report(self, results: dict[str, Any], stamp: str) -> Path:
        from lab.reporting import report
        from lab.reporting.results import Results

        out_dir = self.cfg.out_dir / stamp
        parsed = Results.from_dict(results)
        report.build_report(parsed, out_dir)
        print(report.render_terminal(parsed))
        return out_dir


def machine_description() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": len(procs.usable_cpus()),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


def parser(prog: str, *, scale: bool) -> argparse.ArgumentParser:
    p = ArgumentParser(prog=prog, description=BENCH_DESCRIPTION if not scale else SCALE_DESCRIPTION)
    add = p.add_argument
    add("--vus", type=int, default=200, help="VUs on the shared host (default 200)")
    add(
        "--limited-vus",
        type=int,
        default=40,
        help="VUs for CPU-limited runs, sized so each VU completes several iterations (40)",
    )
    add("--duration", default="60s", help="measured window per run (default 60s)")
    add(
        "--warmup",
        default="15s",
        help="load before the window opens; VUs start one after another across it (15s)",
    )
    add(
        "--no-ramp",
        action="store_true",
        help="start every VU at once (k6's constant-vus); they then stay in phase",
    )
    add("--graceful-stop", default="30s", help="time in-flight iterations may finish (30s)")
    add(
        "--bcrypt-rounds",
        type=flags.bcrypt_cost,
        default=10,
        help="bcrypt cost of every instance (10)",
    )
    add("--repeats", type=int, default=1, help="runs per topology; medians when > 1")
    add("--cpus-per-instance", type=float, default=0.5, help="CPU quota per instance (0.5)")
    add("--out", default="reports", help="folder for reports (default reports/)")
    add("--loadgen-processes", type=int, default=1, help="load generator processes (1)")
    add_exemption_flag(p)
    if scale:
        add("--max-instances", type=int, default=4, help="largest instance count (4)")
    else:
        add("--instances", type=int, default=3, help="instances of the scaled topology (3)")
        add(
            "--platform",
            choices=("process", "swarm"),
            default="process",
            help="where the instances run: processes here (default), or a one-node Docker "
            "Swarm (see the lab's docker command)",
        )
        add(
            "--series",
            default="shared,limited",
            help="shared (no limits) and/or limited (CPU quota per instance)",
        )
        add(
            "--topologies",
            default="single,single+lb,scaled",
            help="which of single, single+lb, scaled to run",
        )
    return p


def _config(args: argparse.Namespace, *, scale: bool, argv: list[str], prog: str) -> BenchConfig:
    return BenchConfig(
        vus=args.vus,
        limited_vus=args.limited_vus,
        duration_s=parse_duration(args.duration),
        warmup_s=parse_duration(args.warmup),
        graceful_stop_s=parse_duration(args.graceful_stop),
        ramp=not args.no_ramp,
        bcrypt_cost=args.bcrypt_rounds,
        repeats=args.repeats,
        cpus_per_instance=args.cpus_per_instance,
        out_dir=Path(args.out),
        limit_exemption=not args.no_limit_exemption,
        loadgen_processes=args.loadgen_processes,
        scale=scale,
        scale_max=getattr(args, "max_instances", 4),
        instances=getattr(args, "instances", 3),
        series=tuple(s for s in getattr(args, "series", "shared").split(",") if s),
        topologies=tuple(t for t in getattr(args, "topologies", "single").split(",") if t),
        command=shlex.join([*prog.split(), *argv]),
    )


def _main(argv: list[str], *, scale: bool, prog: str) -> int:
    cli = parser(prog, scale=scale)
    args = cli.parse_args(argv)
    try:
        bench_config = _config(args, scale=scale, argv=argv, prog=prog)
    except (ValueError, LoadgenError) as exc:  # options that parse but make no sense
        cli.error(str(exc))
    if bench_config.cpus_per_instance > len(procs.usable_cpus()):
        cli.error(
            f"--cpus-per-instance {bench_config.cpus_per_instance:g} exceeds the "
            f"{len(procs.usable_cpus())} usable cores"
        )
    interrupt_on_sigterm()
    try:
        print(describe_exemption(limit_exemption(bench_config.limit_exemption)), file=sys.stderr)
        if getattr(args, "platform", "process") == "swarm":
            from lab.docker import swarmbench

            out = swarmbench.main(bench_config)
        else:
            out = Bench(bench_config).run()
    except (LabError, LoadgenError, ValueError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: every process the bench started has been stopped", file=sys.stderr)
        return 130
    print(f"report: {out}")
    return 0


def main(argv: list[str], prog: str = "python -m lab bench") -> int:
    return _main(argv, scale=False, prog=prog)


def main_scale(argv: list[str], prog: str = "python -m lab bench-scale") -> int:
    return _main(argv, scale=True, prog=prog)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
