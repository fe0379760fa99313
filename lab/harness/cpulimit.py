"""Per-instance CPU limits: each service instance behaves as if it had a machine of its own.

Preferred is a cgroup CPU quota (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`) where the cgroup
file system is writable; else CPU pinning, which can only give whole cores; else the lab
refuses with a clear message rather than silently running unlimited.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import CpuLimitError, CpuLimitUnavailable
from lab.harness import procs

PERIOD_US = 100_000


def _cgroup_mounts() -> list[tuple[str, Path, set[str]]]:
    """(type, mount point, options) of every cgroup mount."""
    mounts = []
    with contextlib.suppress(OSError), open("/proc/self/mounts") as table:
        for line in table:
            parts = line.split()
            if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
                mounts.append((parts[2], Path(parts[1]), set(parts[3].split(","))))
    return mounts


@dataclass
class CpuLimiter:
    """Creates one cgroup (or core set) per instance; `cleanup()` removes them."""

    method: str
    cpus: float
    root: Path | None = None
    cores: list[int] = field(default_factory=list)
    groups: dict[str, Path] = field(default_factory=dict)
    _next_core: int = 0

    def procs_file(self, name: str) -> Path | None:
        """Create the group for `name`; returns the file a process writes its pid into."""
        if self.root is None:
            return None
        group = self.root / name
        group.mkdir(exist_ok=True)
        quota = round(self.cpus * PERIOD_US)
        if self.method == "cgroup-v2":
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        self.groups[name] = group
        return group / "cgroup.procs"

    def core_set(self) -> set[int] | None:
        """For pinning: the next whole cores, round-robin over the usable ones."""
        if self.method != "pinning":
            return None
        wanted = int(self.cpus)
        chosen = {self.cores[(self._next_core + i) % len(self.cores)] for i in range(wanted)}
        self._next_core += wanted
        return chosen

    def cleanup(self) -> None:
        for group in self.groups.values():
            with contextlib.suppress(OSError):
                group.rmdir()
        self.groups.clear()
        if self.root is not None:
            with contextlib.suppress(OSError):
                self.root.rmdir()


def _try_v1(cpus: float, tag: str) -> CpuLimiter | None:
    for kind, mount, options in _cgroup_mounts():
        if kind == "cgroup" and "cpu" in options and os.access(mount, os.W_OK):
            root = mount / tag
            try:
                root.mkdir(exist_ok=True)
            except OSError:
                continue
            return CpuLimiter(method="cgroup-v1", cpus=cpus, root=root)
    return None


def _try_v2(cpus: float, tag: str) -> CpuLimiter | None:
    for kind, mount, _ in _cgroup_mounts():
        if kind != "cgroup2":
            continue
        try:
            if "cpu" not in (mount / "cgroup.controllers").read_text().split():
                continue
            root = mount / tag
            root.mkdir(exist_ok=True)
            # Our own group holds no process, so it may hand the cpu controller down.
            (mount / "cgroup.subtree_control").write_text("+cpu")
            (root / "cgroup.subtree_control").write_text("+cpu")
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                root.rmdir()
            continue
        return CpuLimiter(method="cgroup-v2", cpus=cpus, root=root)
    return None


def choose(cpus: float, *, tag: str | None = None, allow_pinning: bool = True) -> CpuLimiter:
    """The best limiter this machine offers for `cpus` CPUs per instance."""
    if cpus <= 0:
        raise CpuLimitError(f"--cpus-per-instance must be positive, got {cpus}")
    usable = sorted(procs.usable_cpus())
    if cpus > len(usable):
        raise CpuLimitError(f"--cpus-per-instance {cpus} exceeds the {len(usable)} usable cores")
    tag = tag or f"authscale-{os.getpid()}"
    limiter = _try_v2(cpus, tag) or _try_v1(cpus, tag)
    if limiter is not None:
        return limiter
    can_pin = hasattr(os, "sched_setaffinity")
    if allow_pinning and can_pin and float(cpus).is_integer():
        return CpuLimiter(method="pinning", cpus=cpus, cores=usable)
    if sys.platform != "linux":
        raise CpuLimitUnavailable(
            f"cannot limit instances to {cpus:g} CPU on {sys.platform}: CPU quotas need Linux "
            "cgroups"
        )
    raise CpuLimitUnavailable(
        f"cannot limit instances to {cpus:g} CPU here: no writable cgroup with the cpu "
        "controller (run as root, or delegate a cgroup to this user)"
        + (", and pinning gives whole cores only" if can_pin and allow_pinning else "")
    )
