"""`make bench` / `python -m lab bench` and `bench-scale`: the command line, whose defaults
are `BenchConfig`'s."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from authscale.argparsing import ArgumentParser
from lab import flags
from lab.errors import LabError
from lab.experiments.bench.config import BenchConfig
from lab.experiments.bench.runner import Bench
from lab.harness import procs
from lab.harness.signals import report_command
from lab.harness.topology import add_exemption_flag, describe_exemption, limit_exemption
from loadgen.errors import LoadgenError
from loadgen.schedule import parse_duration

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
DEFAULTS = BenchConfig()


def _seconds(value: float) -> str:
    return f"{value:g}s"


def parser(prog: str, *, scale: bool) -> argparse.ArgumentParser:
    d = DEFAULTS
    p = ArgumentParser(prog=prog, description=BENCH_DESCRIPTION if not scale else SCALE_DESCRIPTION)
    add = p.add_argument
    add("--vus", type=int, default=d.vus, help=f"VUs on the shared host (default {d.vus})")
    add(
        "--limited-vus",
        type=int,
        default=d.limited_vus,
        help="VUs for CPU-limited runs, sized so each VU completes several iterations "
        f"({d.limited_vus})",
    )
    duration, warmup = _seconds(d.duration_s), _seconds(d.warmup_s)
    add("--duration", default=duration, help=f"measured window per run (default {duration})")
    add(
        "--warmup",
        default=warmup,
        help=f"load before the window opens; VUs start one after another across it ({warmup})",
    )
    add(
        "--no-ramp",
        action="store_true",
        help="start every VU at once (k6's constant-vus); they then stay in phase",
    )
    stop = _seconds(d.graceful_stop_s)
    add("--graceful-stop", default=stop, help=f"time in-flight iterations may finish ({stop})")
    add(
        "--bcrypt-rounds",
        type=flags.bcrypt_cost,
        default=d.bcrypt_cost,
        help=f"bcrypt cost of every instance ({d.bcrypt_cost})",
    )
    add("--repeats", type=int, default=d.repeats, help="runs per topology; medians when > 1")
    add(
        "--cpus-per-instance",
        type=float,
        default=d.cpus_per_instance,
        help=f"CPU quota per instance ({d.cpus_per_instance:g})",
    )
    add("--out", default=str(d.out_dir), help=f"folder for reports (default {d.out_dir}/)")
    add(
        "--loadgen-processes",
        type=int,
        default=d.loadgen_processes,
        help=f"load generator processes ({d.loadgen_processes})",
    )
    add_exemption_flag(p)
    if scale:
        add(
            "--max-instances",
            type=int,
            default=d.scale_max,
            help=f"largest instance count ({d.scale_max})",
        )
    else:
        _add_bench_options(p)
    return p


def _add_bench_options(p: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    add = p.add_argument
    add(
        "--instances",
        type=int,
        default=d.instances,
        help=f"instances of the scaled topology ({d.instances})",
    )
    add(
        "--platform",
        choices=("process", "swarm"),
        default="process",
        help="where the instances run: processes here (default), or a one-node Docker "
        "Swarm (see the lab's docker command)",
    )
    add(
        "--series",
        default=",".join(d.series),
        help="shared (no limits) and/or limited (CPU quota per instance)",
    )
    add(
        "--topologies",
        default=",".join(d.topologies),
        help="which of single, single+lb, scaled to run",
    )


def _names(listed: str) -> tuple[str, ...]:
    return tuple(name for name in listed.split(",") if name)


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
        command=shlex.join([*prog.split(), *argv]),
        # bench-scale counts instances up to --max-instances; the bench runs the series
        # and topologies asked for. Each keeps the other's defaults.
        scale_max=args.max_instances if scale else DEFAULTS.scale_max,
        instances=DEFAULTS.instances if scale else args.instances,
        series=DEFAULTS.series if scale else _names(args.series),
        topologies=DEFAULTS.topologies if scale else _names(args.topologies),
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

    def work() -> Path:
        print(describe_exemption(limit_exemption(bench_config.limit_exemption)), file=sys.stderr)
        if not scale and args.platform == "swarm":
            from lab.docker import swarmbench

            return swarmbench.main(bench_config)
        return Bench(bench_config).run()

    return report_command(work, expected=(LabError, LoadgenError, ValueError), who="the bench")


def main(argv: list[str], prog: str = "python -m lab bench") -> int:
    return _main(argv, scale=False, prog=prog)


def main_scale(argv: list[str], prog: str = "python -m lab bench-scale") -> int:
    return _main(argv, scale=True, prog=prog)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
