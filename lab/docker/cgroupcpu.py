"""CPU seconds of a container from its cgroup: every process it ran, reaped or not, counted
by the kernel (cgroup v1 cpuacct.usage, or v2 cpu.stat usage_usec)."""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_files(proc_cgroup: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """Candidate usage files for the cgroups named in ``/proc/PID/cgroup`` (pure)."""
    out = []
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        names = controllers.split(",")
        if "cpuacct" in names:
            for mount in (",".join(names), "cpuacct", "cpu,cpuacct"):
                out.append(root / mount / path.lstrip("/") / "cpuacct.usage")
        elif controllers == "":
            out.append(root / path.lstrip("/") / "cpu.stat")
    return list(dict.fromkeys(out))


def read_usage(file: Path) -> float | None:
    """CPU seconds in one usage file, or None when it cannot be read."""
    try:
        text = file.read_text()
    except OSError:
        return None
    if file.name == "cpuacct.usage":
        return int(text.strip()) / 1e9
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return None


def usage_file(pid: int) -> Path | None:
    """The usage file of the cgroup that ``pid`` (a container's init) is in."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    for file in cgroup_files(text):
        # A container's cgroup is not the root one: "/" would be the whole host.
        if file.parent not in (CGROUP_ROOT, *CGROUP_ROOT.iterdir()) and file.exists():
            return file
    return None
