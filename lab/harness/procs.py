"""Child processes that cannot outlive the lab.

Every server the lab starts gets the Linux parent-death signal, so that a lab killed with
SIGKILL (or a crashed test session) still takes its servers down with it; and each runs in
a session of its own so that a Ctrl-C on the terminal reaches the lab first, which then
stops them in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1


def usable_cpus() -> frozenset[int]:
    """The CPUs this process may run on: its affinity on Linux, every CPU where the system
    cannot say (macOS)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return frozenset(affinity(0))
    return frozenset(range(os.cpu_count() or 1))


def _child_setup(
    sig: int, cgroup_procs: Path | None, cpu_affinity: set[int] | None
) -> Callable[[], None]:
    """Runs in the child between fork and exec, so the limits hold from its first instruction
    and bind every process it forks."""

    def set_up() -> None:
        if sys.platform == "linux":  # elsewhere (macOS) there is no parent-death signal
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if cgroup_procs is not None:
            cgroup_procs.write_text(str(os.getpid()))
        if cpu_affinity:
            os.sched_setaffinity(0, cpu_affinity)

    return set_up


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    death_signal: int = signal.SIGTERM,
    user: str | None = None,
    cwd: Path | None = None,
    cgroup_procs: Path | None = None,
    cpu_affinity: set[int] | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv with stdout and stderr appended to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            # Dropping to another user must also drop root's groups: a folder with group
            # root and no group permissions would otherwise deny the new user.
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
            start_new_session=True,
            preexec_fn=_child_setup(death_signal, cgroup_procs, cpu_affinity),
        )


def stop(proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Signal proc, wait up to timeout, then kill it; returns its exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    return proc.returncode


def pid_alive(pid: int) -> bool:
    """True while pid runs; a zombie (exited, not yet reaped) counts as gone. Pids 0 and
    below name groups of processes, not one, so they count as gone too."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def works_in(pid: int, folder: Path) -> bool:
    """True when pid's working folder is folder (a check that survives a rewritten title)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == folder.resolve()
    except OSError:
        return False


def cmdline_mentions(pid: int, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def port_listener(port: int) -> int | None:
    """The pid listening on TCP ``port``, if this user may see it; psutil's errors (no right
    to list sockets) are the caller's."""
    for conn in psutil.net_connections(kind="tcp"):
        listens = conn.status == psutil.CONN_LISTEN and conn.pid is not None
        if listens and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def loopback_listener(url: str) -> int | None:
    """The pid listening on a loopback URL's port, if this user may see it."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1") or parsed.port is None:
        return None
    try:
        return port_listener(parsed.port)
    except (psutil.Error, OSError):
        return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the caller retries if it loses the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.05,
) -> bool:
    """Poll ready() until it holds, the deadline passes or alive() turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if not alive():
            return False
        time.sleep(interval)
    return ready()


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
