"""One measured run: the load generator as its own process against a running topology, while
a sampler records the CPU of every component, so CPU can be cut to exactly the window the
load generator measured."""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.harness import cpuacct, procs

SAMPLE_INTERVAL_S = 0.25


@dataclass
class CpuSampler:
    """Samples component CPU and host busy time in a thread, stamped with wall-clock time."""

    pids: Callable[[], Mapping[str, int]]
    interval: float = SAMPLE_INTERVAL_S
    times: list[float] = field(default_factory=list)
    samples: list[cpuacct.CpuSnapshot] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> CpuSampler:
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            self.times.append(time.time())
            self.samples.append(cpuacct.snapshot(self.pids()))
            if self._stop.wait(self.interval):
                return

    def at(self, when: float) -> cpuacct.CpuSnapshot:
        """The snapshot linearly interpolated at wall-clock time `when`."""
        if not self.samples:
            raise LabError("no CPU samples were taken")
        i = bisect.bisect_left(self.times, when)
        if i <= 0:
            return self.samples[0]
        if i >= len(self.samples):
            return self.samples[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        a, b = self.samples[i - 1], self.samples[i]
        f = (when - t0) / (t1 - t0) if t1 > t0 else 0.0
        names = set(a.components) | set(b.components)
        return cpuacct.CpuSnapshot(
            components={
                n: a.components.get(n, 0.0)
                + f * (b.components.get(n, 0.0) - a.components.get(n, 0.0))
                for n in names
            },
            host_busy=a.host_busy + f * (b.host_busy - a.host_busy),
        )

    def usage(self, start: float, end: float) -> cpuacct.CpuUsage:
        return cpuacct.usage(self.at(start), self.at(end), end - start)

    def timeline(self, start: float, end: float, step: float = 1.0) -> list[dict[str, float]]:
        """Per-second CPU of every component (cores busy) across [start, end)."""
        rows: list[dict[str, float]] = []
        t = start
        while t + step <= end + 1e-9:
            use = self.usage(t, t + step)
            rows.append(
                {
                    "t": round(t - start, 3),
                    **{k: round(v / step, 4) for k, v in use.components.items()},
                }
            )
            t += step
        return rows


@dataclass(frozen=True, kw_only=True)
class LoadSpec:
    target: str
    vus: int
    duration_s: float
    warmup_s: float
    graceful_stop_s: float = 30.0
    #: Start the VUs one after another across the warm-up instead of all at once: VUs that
    #: start together stay in phase (all hash, then all wait) and the window's count would
    #: depend on how many waves it happens to catch.
    ramp: bool = True
    processes: int = 1
    extra_args: tuple[str, ...] = ()


def loadgen_argv(spec: LoadSpec, out: Path) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "loadgen",
        "--target",
        spec.target,
    ]
    if spec.ramp and spec.warmup_s > 0:
        argv += ["--vus", "0", "--stage", f"{spec.warmup_s:g}s:{spec.vus}"]
        argv += ["--stage", f"{spec.duration_s:g}s:{spec.vus}"]
    else:
        argv += ["--vus", str(spec.vus), "--duration", f"{spec.duration_s:g}s"]
    argv += [
        "--warmup",
        f"{spec.warmup_s:g}s",
        "--graceful-stop",
        f"{spec.graceful_stop_s:g}s",
        "--out",
        str(out),
        "--quiet",
    ]
    if spec.processes > 1:
        argv += ["--processes", str(spec.processes)]
    return argv + list(spec.extra_args)


def window_bounds(result: Mapping[str, Any]) -> tuple[float, float]:
    """Wall-clock start and end of the window the load generator measured."""
    window = result["window"]
    if "start_epoch_s" in window:
        start = float(window["start_epoch_s"])
    else:
        started = datetime.fromisoformat(str(result["started_at"]).replace("Z", "+00:00"))
        start = started.timestamp() + float(window.get("warmup_s", 0.0))
    return start, start + float(window["duration_s"])


#: Given the load generator's process, the sampler that records the window's CPU.
SamplerFor = Callable[[subprocess.Popen[bytes]], CpuSampler]
#: The load generator's JSON, the window's CPU usage and a per-second CPU timeline of it.
LoadOutcome = tuple[dict[str, Any], cpuacct.CpuUsage, list[dict[str, float]]]


def process_sampler(pids: Callable[[], Mapping[str, int]]) -> SamplerFor:
    """Sample the process trees of `pids` and of the load generator itself."""
    return lambda proc: CpuSampler(lambda: {**pids(), "loadgen": proc.pid})


def run_load(
    spec: LoadSpec,
    *,
    pids: Callable[[], Mapping[str, int]],
    run_dir: Path,
    on_tick: Callable[[float], None] | None = None,
) -> LoadOutcome:
    """Run the load generator to completion, sampling the process trees of `pids`."""
    return run_load_sampled(spec, sampler=process_sampler(pids), run_dir=run_dir, on_tick=on_tick)


def run_load_sampled(
    spec: LoadSpec,
    *,
    sampler: SamplerFor,
    run_dir: Path,
    on_tick: Callable[[float], None] | None = None,
) -> LoadOutcome:
    """Run the load generator to completion while `sampler` records CPU; returns its JSON,
    the window's CPU usage and a per-second CPU timeline of the window."""
    out = run_dir / "loadgen.json"
    log = run_dir / "loadgen.log"
    began = time.monotonic()
    proc = procs.spawn(loadgen_argv(spec, out), log_path=log)
    sampling = sampler(proc).start()
    deadline = began + spec.warmup_s + spec.duration_s + spec.graceful_stop_s + 60
    try:
        while proc.poll() is None:
            if on_tick is not None:
                on_tick(time.monotonic() - began)
            if time.monotonic() > deadline:
                procs.stop(proc)
                raise LabError(f"the load generator overran its time; see {log}")
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            procs.stop(proc)
        sampling.stop()
    # Exit code 99 means a threshold failed; the bench sets none, but it is still a result.
    if proc.returncode not in (0, 99) or not out.exists():
        raise LabError(
            f"the load generator failed (exit {proc.returncode}); the end of {log}:\n"
            f"{procs.log_tail(log)}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    start, end = window_bounds(result)
    return result, sampling.usage(start, end), sampling.timeline(start, end)
