"""The measurements: one VU count against one real service instance (its threads sampled
through the load, strace and py-spy each in its phase, the load generator's JSON), and a
lone thread's hash by its CPU clock to compare the hashing threads with."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import bcrypt

from lab.experiments import loadrun
from lab.experiments.overhead.attached import AttachedTool
from lab.experiments.overhead.profile import Profiler
from lab.experiments.overhead.rows import iterations_between
from lab.experiments.overhead.settings import STRACE_MARGIN_S, OverheadConfig
from lab.experiments.overhead.strace import Strace
from lab.experiments.overhead.threads import interpolate, sample
from lab.harness import infra
from lab.harness.topology import Topology, TopologyConfig, limit_exemption


def load_spec(cfg: OverheadConfig, vus: int, target: str, *, probes_s: float) -> loadrun.LoadSpec:
    """The load: a ramp over the warm-up, the probes' phases (strace, py-spy) at full load,
    the window."""
    return loadrun.LoadSpec(
        target=target,
        vus=vus,
        warmup_s=cfg.warmup_s,
        duration_s=probes_s + cfg.duration_s,
        graceful_stop_s=cfg.graceful_stop_s,
        # The load generator's argparse keeps the last --warmup: the probes' phases are
        # warm-up to it, out of the window it measures.
        extra_args=("--warmup", f"{cfg.warmup_s + probes_s:g}s") if probes_s else (),
    )


def lone_hash_cpu_ms(cost: int) -> float:
    """A lone thread's CPU ms per hash (hash and verify alike), by its own CPU clock: other
    work on the machine slows the wall clock that lab.reporting.ceiling reads, not this one."""
    password, salt = b"correct horse battery staple", bcrypt.gensalt(cost)
    pairs = max(3, round(0.5 / (0.002 * 2.0 ** (cost - 4))))  # about half a second
    began = time.thread_time()
    for _ in range(pairs):
        bcrypt.checkpw(password, bcrypt.hashpw(password, salt))
    return (time.thread_time() - began) * 1000 / (2 * pairs)


def measure(
    cfg: OverheadConfig,
    vus: int,
    running: infra.Infra,
    run_dir: Path,
    *,
    strace: bool,
    profile: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One VU count: overhead_row's arguments (but the lone-thread figure, known once every
    run is done) and the load generator's JSON."""
    strace_s = cfg.strace_s if strace else 0.0
    profile_s = cfg.profile_s if profile else 0.0
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
        samples, tracer, profiler = [sample(pid)], Strace(pid, run_dir), Profiler(pid, run_dir)
        phases: list[tuple[AttachedTool, float, float]] = [
            (tracer, cfg.warmup_s, strace_s),
            (profiler, cfg.warmup_s + strace_s, profile_s),
        ]

        def tick(elapsed: float) -> None:
            samples.append(sample(pid))
            for probe, begins, length in phases:
                if length and probe.proc is None and elapsed >= begins + STRACE_MARGIN_S:
                    probe.start()
                elif probe.proc and elapsed >= begins + length - STRACE_MARGIN_S:
                    probe.stop()

        spec = load_spec(cfg, vus, topology.entry_url, probes_s=strace_s + profile_s)
        try:
            result, usage, _ = loadrun.run_load(
                spec, pids=topology.component_pids, run_dir=run_dir, on_tick=tick
            )
        finally:
            tracer.stop()
            profiler.stop()
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
        "profile": profiler.result(),
    }
    return row_args, result
