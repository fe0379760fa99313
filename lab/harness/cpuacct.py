"""CPU seconds per component over exactly a measured window, and whole-host utilisation.

A component is a root process and all its descendants: a process's CPU is its own user +
system time plus that of the children it has reaped, so summing over the live tree counts
every process once, including worker processes that came and went during the window.
"""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

from lab.harness import procs


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by pid and its descendants (0.0 when it is gone)."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in members:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def own_cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def host_busy_seconds() -> float:
    """CPU seconds the cores this process may use spent busy since boot (guest time is
    already inside user time, so it is not added twice)."""
    usable = procs.usable_cpus()
    busy = 0.0
    for cpu, t in enumerate(psutil.cpu_times(percpu=True)):
        if cpu in usable:
            total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
            busy += total - t.idle - getattr(t, "iowait", 0.0)
    return busy


@dataclass(frozen=True)
class CpuSnapshot:
    components: dict[str, float]
    host_busy: float


def snapshot(pids: Mapping[str, int]) -> CpuSnapshot:
    return CpuSnapshot(
        components={name: tree_cpu_seconds(pid) for name, pid in pids.items()},
        host_busy=host_busy_seconds(),
    )


@dataclass(frozen=True)
class CpuUsage:
    components: dict[str, float]
    host_busy: float
    window_s: float
    cores: int

    @property
    def utilisation(self) -> float:
        return self.host_busy / (self.cores * self.window_s) if self.window_s > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "cpu_seconds": {k: round(v, 3) for k, v in self.components.items()},
            "host": {
                "cpu_seconds_busy": round(self.host_busy, 3),
                "utilisation": round(self.utilisation, 4),
            },
        }


def usage(before: CpuSnapshot, after: CpuSnapshot, window_s: float) -> CpuUsage:
    return CpuUsage(
        components={
            name: max(0.0, after.components.get(name, 0.0) - spent)
            for name, spent in before.components.items()
        },
        host_busy=after.host_busy - before.host_busy,
        window_s=window_s,
        cores=len(procs.usable_cpus()),
    )
