"""``python -m lab bench-overhead``: where the service's CPU outside bcrypt goes as users grow.

Usage: python -m lab bench-overhead [--vus 10,200] [--bcrypt-rounds 10] [--warmup 10s]
       [--duration 30s] [--strace-duration 8s] [--out reports]

Per VU count: one service instance (real Postgres + Redis), the load generator as its own
process, a ramp, then a window. The service's threads, sampled every 0.2 s and cut to the
window, split its CPU into the event-loop (main) thread per iteration and the hashing
threads per hash (beside a lone thread's hash measured in the same run); context switches
and read/write calls per iteration come with them. With strace on PATH, ``strace -c -f``
counts system calls in a phase at full load just *before* the window (ptrace stops the
service at every call; it must not touch the measured CPU). Tables on stdout and in
reports/overhead-<stamp>/ (overhead.md, overhead.json).
"""

from __future__ import annotations

import argparse
import bisect
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
import psutil

from authscale.argparsing import ArgumentParser
from lab.errors import LabError
from lab.experiments import loadrun
from lab.harness import config, infra, procs
from lab.harness.signals import interrupt_on_sigterm
from lab.harness.topology import Topology, TopologyConfig, add_exemption_flag, limit_exemption
from lab.reporting import ceiling
from loadgen.config import parse_duration
from loadgen.errors import LoadgenError

HASHES_PER_ITERATION = 2  # signup hashes once, login verifies once
#: strace attaches this long after the ramp (the load generator takes ~1 s to start) and
#: detaches this long before the window opens, so the service settles first.
STRACE_MARGIN_S = 1.0
TOP_SYSCALLS = 8
#: Server-Timing phases as they happen in the handler (`app` holds them); others follow.
PHASE_ORDER = ("hash_wait", "hash", "db", "redis", "jwt", "app")
STRACE_MISSING = "strace is not on PATH: system calls per iteration are skipped"


@dataclass(frozen=True, kw_only=True)
class OverheadConfig:
    vus: tuple[int, ...] = (10, 200)
    bcrypt_cost: int = 10
    warmup_s: float = 10.0
    duration_s: float = 30.0
    strace_s: float = 8.0  # the strace phase between ramp and window; 0: none
    graceful_stop_s: float = 30.0
    out_dir: Path = Path("reports")
    limit_exemption: bool = True

    def __post_init__(self) -> None:
        if not self.vus or min(self.vus) < 1:
            raise ValueError("--vus takes VU counts of at least 1, e.g. 10,200")
        if not 4 <= self.bcrypt_cost <= 31:
            raise ValueError("--bcrypt-rounds must be within 4..31")
        if self.duration_s <= 0 or self.warmup_s < 0 or self.graceful_stop_s < 0:
            raise ValueError("the window must be longer than 0 s, the others at least 0 s")
        if self.strace_s and self.strace_s < 2 * STRACE_MARGIN_S + 1:
            raise ValueError("--strace-duration must be 0 (no strace) or at least 3s")


# ------------------------------------------------------------------------------ pure part

#: One thread's CPU seconds, voluntary and involuntary context switches.
Counters = tuple[float, ...]
ZERO: Counters = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Sample:
    at: float  # wall-clock time
    threads: dict[int, Counters]  # by thread id
    io: tuple[float, ...]  # read and write calls of the whole process


def interpolate(samples: Sequence[Sample], when: float) -> Sample:
    """The sample linearly interpolated at `when`; a thread absent from the earlier sample
    started in between and counts from zero."""
    if not samples:
        raise LabError("no thread samples were taken")
    i = bisect.bisect_left([s.at for s in samples], when)
    if i <= 0 or i >= len(samples):
        return samples[min(max(i, 0), len(samples) - 1)]
    a, b = samples[i - 1], samples[i]
    f = (when - a.at) / (b.at - a.at) if b.at > a.at else 0.0

    def mix(p: Sequence[float], q: Sequence[float]) -> tuple[float, ...]:
        return tuple(x + f * (y - x) for x, y in zip(p, q, strict=True))

    threads = {
        tid: mix(a.threads.get(tid, ZERO), b.threads.get(tid, a.threads.get(tid, ZERO)))
        for tid in a.threads.keys() | b.threads.keys()
    }
    return Sample(when, threads, mix(a.io, b.io))


def parse_strace(text: str) -> dict[str, int]:
    """syscall → calls from ``strace -c`` output (its errors column may be blank)."""
    counts = {}
    for line in text.splitlines():
        tokens = line.split()
        if (
            len(tokens) in (5, 6)
            and tokens[0].replace(".", "", 1).isdigit()
            and tokens[3].isdigit()
            and tokens[-1] != "total"
        ):
            counts[tokens[-1]] = int(tokens[3])
    return counts


def iterations_between(result: Mapping[str, Any], start: float, end: float) -> float:
    """Iterations the load generator completed between two wall-clock times, from its
    per-second series (each second's count spread evenly over that second)."""
    window, series = result["window"], result.get("timeseries", {})
    t0 = float(window["start_epoch_s"]) - float(window.get("warmup_s", 0.0))
    total = 0.0
    for t, count in zip(series.get("t", []), series.get("iterations", []), strict=False):
        lo = t0 + float(t)
        total += float(count) * max(0.0, min(lo + 1.0, end) - max(lo, start))
    return total


@dataclass(frozen=True, kw_only=True)
class Row:
    vus: int
    iterations: int
    iterations_per_s: float
    cpu_ms_per_it: float  # the whole service process
    lone_hash_ms: float  # a lone thread's CPU per hash (mean of hash, verify), outside it
    outside_bcrypt_ms_per_it: float  # cpu_ms_per_it − 2 × lone_hash_ms
    main_ms_per_it: float  # the event-loop thread
    other_threads_ms_per_hash: float  # the hashing threads, per hash
    hashing_excess_ms_per_it: float  # what they cost beyond 2 lone hashes
    unattributed_ms_per_it: float  # process − threads: threads gone, sampling error
    ctx_per_it: dict[str, float]
    io_per_it: dict[str, float]
    threads_cpu_s: dict[str, float]  # each thread's CPU in the window ("main", thread ids)
    syscalls_per_it: dict[str, float] | None = None
    strace_iterations: float = 0.0
    #: strace's attach and detach, in seconds from the window's start (negative: before).
    strace_span_s: tuple[float, float] = (0.0, 0.0)
    phases_ms: dict[str, dict[str, float]] = field(default_factory=dict)


def overhead_row(
    *,
    vus: int,
    start: Sample,
    end: Sample,
    main_tid: int,
    process_cpu_s: float,
    iterations: int,
    window_s: float,
    lone_hash_ms: float,
    syscalls: Mapping[str, int] | None = None,
    strace_iterations: float = 0.0,
    strace_span_s: tuple[float, float] = (0.0, 0.0),
) -> Row:
    """One line of the table from the samples at the window's two ends."""
    if iterations <= 0:
        raise LabError(f"{vus} VUs: no iteration completed inside the window")
    used = {
        tid: [x - y for x, y in zip(c, start.threads.get(tid, ZERO), strict=True)]
        for tid, c in end.threads.items()
    }
    main = used.pop(main_tid, list(ZERO))
    others = [sum(c[k] for c in used.values()) for k in range(3)]
    per_it, lone_pair = 1000.0 / iterations, HASHES_PER_ITERATION * lone_hash_ms
    traced = None
    if syscalls and strace_iterations > 0:
        ranked = sorted(syscalls.items(), key=lambda kv: -kv[1])
        traced = {name: calls / strace_iterations for name, calls in ranked}
    return Row(
        vus=vus,
        iterations=iterations,
        iterations_per_s=iterations / window_s,
        cpu_ms_per_it=process_cpu_s * per_it,
        lone_hash_ms=lone_hash_ms,
        outside_bcrypt_ms_per_it=process_cpu_s * per_it - lone_pair,
        main_ms_per_it=main[0] * per_it,
        other_threads_ms_per_hash=others[0] * per_it / HASHES_PER_ITERATION,
        hashing_excess_ms_per_it=others[0] * per_it - lone_pair,
        unattributed_ms_per_it=(process_cpu_s - main[0] - others[0]) * per_it,
        ctx_per_it={
            "voluntary": (main[1] + others[1]) / iterations,
            "involuntary": (main[2] + others[2]) / iterations,
            "main_voluntary": main[1] / iterations,
            "main_involuntary": main[2] / iterations,
        },
        io_per_it={
            "read": (end.io[0] - start.io[0]) / iterations,
            "write": (end.io[1] - start.io[1]) / iterations,
        },
        threads_cpu_s={"main": main[0]} | {str(tid): c[0] for tid, c in sorted(used.items())},
        syscalls_per_it=traced,
        strace_iterations=strace_iterations,
        strace_span_s=strace_span_s,
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> list[str]:
    rule = "| " + " | ".join(["---"] * left + ["---:"] * (len(header) - left)) + " |"
    lines = ["| " + " | ".join(header) + " |", rule]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def render(
    rows: Sequence[Row], cfg: OverheadConfig, strace_note: str = "", wall_hash_ms: float = 0.0
) -> str:
    """The tables (markdown): CPU per iteration, system calls, Server-Timing phases."""
    lines = [
        f"One service instance, bcrypt cost {cfg.bcrypt_cost}; per VU count a "
        f"{cfg.warmup_s:g} s warm-up, then a {cfg.duration_s:g} s window. CPU in ms. "
        "outside bcrypt = service CPU − 2 × a lone thread's hash; it splits into the main "
        "(event-loop) thread and the hashing threads' excess over 2 lone hashes.",
    ]
    if rows and wall_hash_ms:
        lines.append(
            f"A lone thread's hash: {rows[0].lone_hash_ms:.2f} ms by its CPU clock, "
            f"{wall_hash_ms:.2f} ms by lab.reporting.ceiling's wall clock "
            "(they part when other work runs)."
        )
    lines.append("")
    lines += _table(
        ["VUs", "it/s", "CPU/it", "outside bcrypt/it", "main thread/it", "hashing excess/it",
         "hashing threads/hash", "lone thread/hash", "ctx switches/it vol / invol (main)",
         "read / write calls/it"],
        [
            [r.vus, f"{r.iterations_per_s:.2f}", f"{r.cpu_ms_per_it:.1f}",
             f"{r.outside_bcrypt_ms_per_it:.2f}", f"{r.main_ms_per_it:.2f}",
             f"{r.hashing_excess_ms_per_it:.2f}", f"{r.other_threads_ms_per_hash:.2f}",
             f"{r.lone_hash_ms:.2f}",
             "{voluntary:.1f} / {involuntary:.1f} ({main_voluntary:.1f} / "
             "{main_involuntary:.1f})".format(**r.ctx_per_it),
             "{read:.1f} / {write:.1f}".format(**r.io_per_it)]
            for r in rows
        ],
    )  # fmt: skip
    traced = [r for r in rows if r.syscalls_per_it]
    if traced:
        counts = [r.syscalls_per_it or {} for r in traced]
        names = list(dict.fromkeys(n for c in counts for n in list(c)[:TOP_SYSCALLS]))
        lines += ["", f"System calls per iteration (strace -c -f; the top {TOP_SYSCALLS} of "
                  "each, counted in a phase at the same load before the window):", ""]  # fmt: skip
        lines += _table(
            ["syscall", *(f"{r.vus} VUs" for r in traced)],
            [[n, *(f"{c.get(n, 0.0):.1f}" for c in counts)] for n in names]
            + [["all", *(f"{sum(c.values()):.1f}" for c in counts)]]
            + [["iterations traced", *(f"{r.strace_iterations:.0f}" for r in traced)]],
        )
    if strace_note:
        lines += ["", strace_note]
    if any(r.phases_ms for r in rows):
        found = {p for r in rows for got in r.phases_ms.values() for p in got}
        phases = sorted(found, key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else 9, p))
        lines += ["", "Server-Timing, average ms per step in the window:", ""]
        lines += _table(
            ["VUs", "step", *phases],
            [
                [r.vus, step, *(f"{got[p]:.2f}" if p in got else "–" for p in phases)]
                for r in rows
                for step, got in r.phases_ms.items()
            ],
            left=2,
        )
    return "\n".join(lines) + "\n"


def step_phase_averages(result: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """step → phase → average ms, from the load generator's `where_the_time_went`."""
    return {
        step: {p: float(v["avg"]) for p, v in phases.items() if v and v.get("avg") is not None}
        for step, phases in (result.get("where_the_time_went") or {}).items()
    }


def load_spec(cfg: OverheadConfig, vus: int, target: str, *, strace_s: float) -> loadrun.LoadSpec:
    """The load: a ramp over the warm-up, the strace phase at full load, the window."""
    return loadrun.LoadSpec(
        target=target,
        vus=vus,
        warmup_s=cfg.warmup_s,
        duration_s=strace_s + cfg.duration_s,
        graceful_stop_s=cfg.graceful_stop_s,
        # The load generator's argparse keeps the last --warmup: the strace phase is
        # warm-up to it, out of the window it measures.
        extra_args=("--warmup", f"{cfg.warmup_s + strace_s:g}s") if strace_s else (),
    )


# ------------------------------------------------------------------------------ I/O shell


def lone_hash_cpu_ms(cost: int) -> float:
    """A lone thread's CPU ms per hash (hash and verify alike), by its own CPU clock: other
    work on the machine slows the wall clock that lab.reporting.ceiling reads, not this one."""
    password, salt = b"correct horse battery staple", bcrypt.gensalt(cost)
    pairs = max(3, round(0.5 / (0.002 * 2.0 ** (cost - 4))))  # about half a second
    began = time.thread_time()
    for _ in range(pairs):
        bcrypt.checkpw(password, bcrypt.hashpw(password, salt))
    return (time.thread_time() - began) * 1000 / (2 * pairs)


def sample(pid: int) -> Sample:
    """Every thread's CPU and context switches — psutil's process-wide figures count only
    the main thread's switches, so each thread is read by its id — and read/write calls."""
    proc = psutil.Process(pid)
    threads: dict[int, Counters] = {}
    for t in proc.threads():
        try:
            ctx = psutil.Process(t.id).num_ctx_switches()
        except psutil.Error:
            continue  # the thread ended between the two reads
        threads[t.id] = (t.user_time + t.system_time, float(ctx.voluntary), float(ctx.involuntary))
    io = proc.io_counters()
    return Sample(time.time(), threads, (float(io.read_count), float(io.write_count)))


@dataclass
class Strace:
    """``strace -c -f -p PID`` from start() to stop(); SIGINT makes it detach and write its
    summary."""

    pid: int
    run_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    began: float = 0.0
    ended: float = 0.0

    def start(self) -> None:
        argv = ["strace", "-c", "-f", "-o", str(self.run_dir / "strace.txt"), "-p", str(self.pid)]
        self.proc = procs.spawn(argv, log_path=self.run_dir / "strace.log")
        self.began = time.time()

    def stop(self) -> None:
        if self.proc is not None and not self.ended:
            self.ended = time.time()
            procs.stop(self.proc, sig=signal.SIGINT, timeout=15)

    def counts(self) -> dict[str, int] | None:
        out = self.run_dir / "strace.txt"
        found = parse_strace(out.read_text()) if self.ended and out.exists() else {}
        if self.ended and not found:
            log = procs.log_tail(self.run_dir / "strace.log", 3)
            print(f"strace counted nothing for pid {self.pid}: {log}", file=sys.stderr)
        return found or None


def measure(
    cfg: OverheadConfig, vus: int, running: infra.Infra, run_dir: Path, *, strace: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One VU count: overhead_row's arguments (but the lone-thread figure, known once every
    run is done) and the load generator's JSON."""
    strace_s = cfg.strace_s if strace else 0.0
    topology = Topology(
        TopologyConfig(
            instances=1,
            balancer=False,
            database_url=running.database_url,
            redis_url=running.redis_url,
            run_dir=run_dir,
            bcrypt_rounds=cfg.bcrypt_cost,
            limit_exempt=limit_exemption(cfg.limit_exemption),
        )
    )
    with topology:
        pid = topology.component_pids()["service_1"]
        samples, tracer = [sample(pid)], Strace(pid, run_dir)

        def tick(elapsed: float) -> None:
            samples.append(sample(pid))
            if strace_s and tracer.proc is None and elapsed >= cfg.warmup_s + STRACE_MARGIN_S:
                tracer.start()
            elif tracer.proc and elapsed >= cfg.warmup_s + strace_s - STRACE_MARGIN_S:
                tracer.stop()

        spec = load_spec(cfg, vus, topology.entry_url, strace_s=strace_s)
        try:
            result, usage, _ = loadrun.run_load(
                spec, pids=topology.component_pids, run_dir=run_dir, on_tick=tick
            )
        finally:
            tracer.stop()
        samples.append(sample(pid))
    start, end = loadrun.window_bounds(result)
    row_args = {
        "vus": vus,
        "start": interpolate(samples, start),
        "end": interpolate(samples, end),
        "main_tid": pid,
        "process_cpu_s": usage.components.get("service_1", 0.0),
        "iterations": int(result["window"]["iterations_completed_in_window"]),
        "window_s": end - start,
        "syscalls": tracer.counts(),
        "strace_iterations": iterations_between(result, tracer.began, tracer.ended),
        "strace_span_s": (tracer.began - start, tracer.ended - start) if tracer.ended else (0, 0),
    }
    return row_args, result


def run(cfg: OverheadConfig, *, command: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    strace = bool(cfg.strace_s) and shutil.which("strace") is not None
    note = "" if strace else (STRACE_MISSING if cfg.strace_s else "no strace phase was run")
    if note:
        print(note, file=sys.stderr)
    # A lone thread's hash and verify before and after the runs; the lower figure is kept.
    ceilings = [ceiling.measure(cfg.bcrypt_cost, taken="before")]
    lone = [lone_hash_cpu_ms(cfg.bcrypt_cost)]
    running = infra.start(config.infra_config())
    runs = []
    try:
        for vus in cfg.vus:
            print(f"{vus} VUs: running", file=sys.stderr)
            run_dir = config.state_root() / "runs" / f"overhead-{stamp}" / f"vus-{vus}"
            runs.append(measure(cfg, vus, running, run_dir, strace=strace))
    finally:
        running.stop()
    ceilings.append(ceiling.measure(cfg.bcrypt_cost, taken="after"))
    lone.append(lone_hash_cpu_ms(cfg.bcrypt_cost))
    lone_hash_ms, wall_hash_ms = min(lone), min((c.hash_ms + c.verify_ms) / 2 for c in ceilings)
    rows = []
    for row_args, result in runs:
        row = overhead_row(**row_args, lone_hash_ms=lone_hash_ms)
        rows.append(replace(row, phases_ms=step_phase_averages(result)))
        for warning in result.get("loadgen", {}).get("warnings", []):
            print(f"{row.vus} VUs: load generator: {warning}", file=sys.stderr)
    table = render(rows, cfg, note, wall_hash_ms)
    out = cfg.out_dir / f"overhead-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.md").write_text(table)
    document = {
        "command": command,
        "parameters": {**asdict(cfg), "out_dir": str(cfg.out_dir)},
        "ceiling": [c.to_dict() for c in ceilings],
        "lone_hash_cpu_ms": lone,
        "lone_hash_wall_ms": wall_hash_ms,
        "strace": note or "strace -c -f in a phase at full load before each window",
        "rows": [asdict(r) for r in rows],
    }
    (out / "overhead.json").write_text(json.dumps(document, indent=2))
    print(table)
    return out


def main(argv: list[str], prog: str = "python -m lab bench-overhead") -> int:
    p = ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = p.add_argument
    add("--vus", default="10,200", help="VU counts, one run each (10,200)")
    add("--bcrypt-rounds", type=int, default=10, help="bcrypt cost of the instance (10)")
    add("--warmup", default="10s", help="ramp before the window; VUs start one by one (10s)")
    add("--duration", default="30s", help="measured window per VU count (30s)")
    add("--strace-duration", default="8s", help="strace phase before the window; 0: none (8s)")
    add("--graceful-stop", default="30s", help="time in-flight iterations may finish (30s)")
    add("--out", default="reports", help="folder for reports (default reports/)")
    add_exemption_flag(p)
    args = p.parse_args(argv)
    interrupt_on_sigterm()
    try:
        cfg = OverheadConfig(
            vus=tuple(int(v) for v in args.vus.split(",") if v.strip()),
            bcrypt_cost=args.bcrypt_rounds,
            warmup_s=parse_duration(args.warmup),
            duration_s=parse_duration(args.duration),
            strace_s=parse_duration(args.strace_duration),
            graceful_stop_s=parse_duration(args.graceful_stop),
            out_dir=Path(args.out),
            limit_exemption=not args.no_limit_exemption,
        )
        out = run(cfg, command=" ".join([*prog.split(), *argv]))
    except (LabError, LoadgenError, ValueError, psutil.Error) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: every process it started has been stopped", file=sys.stderr)
        return 130
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
