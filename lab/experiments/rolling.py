"""Rolling restart through the balancer's admin API, one instance at a time.

For each backend: drain (no new requests) → wait until it is idle (nothing in flight or
queued) → stop the instance → start it on the same port → wait for a passing health check
of the balancer made after the start → enable → wait until the balancer has it UP. Only
then the next one, so at most one instance is ever out of rotation and no request is sent
to an instance that is stopping.

``python -m lab rolling-restart --admin http://127.0.0.1:8404`` restarts the instances of a
running ``python -m lab up``: each is the process listening on the backend's port; it is
stopped with SIGTERM and started again with the same command line, environment, working
folder and log file. The new process is kept by a small watcher that ends it when the
process that owned the original (the ``lab up``) exits, so nothing outlives the lab.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import psutil

from authscale.argparsing import ArgumentParser
from lab.errors import LabError
from lab.harness import procs
from lab.harness.adminclient import AdminClient


class RollingError(LabError):
    """A step of the rolling restart did not complete; the message says which and why."""


class Restarter(Protocol):
    """Stops and starts the instance behind a backend URL (``start`` returns once it is
    ready on its own port)."""

    def stop(self, url: str) -> None: ...
    def start(self, url: str) -> None: ...


@dataclass(frozen=True, kw_only=True)
class RollingConfig:
    admin_url: str
    admin_token: str | None = None
    idle_timeout: float = 30.0
    ready_timeout: float = 60.0
    poll_s: float = 0.05

    def __post_init__(self) -> None:
        if not self.admin_url.startswith("http://"):
            raise ValueError("the admin URL must be http://host:port")
        if min(self.idle_timeout, self.ready_timeout, self.poll_s) <= 0:
            raise ValueError("timeouts and the poll interval must be positive")


@dataclass(frozen=True)
class RollingStep:
    """Timings (seconds) of one instance's restart."""

    backend: str
    url: str
    drain_s: float
    stop_s: float
    start_s: float
    healthy_s: float
    up_s: float

    @property
    def total_s(self) -> float:
        return self.drain_s + self.stop_s + self.start_s + self.healthy_s + self.up_s

    def describe(self) -> str:
        return (
            f"{self.backend} {self.url}: idle after {self.drain_s:.2f}s, stopped in "
            f"{self.stop_s:.2f}s, started in {self.start_s:.2f}s, healthy after "
            f"{self.healthy_s:.2f}s, up after {self.up_s:.2f}s"
        )


def summary(steps: int, seconds: float) -> str:
    return f"restarted {steps} instance{'' if steps == 1 else 's'} in {seconds:.1f}s"


def _wait(what: str, holds: Callable[[], bool], *, timeout: float, poll_s: float) -> float:
    began = time.monotonic()
    while not holds():
        if time.monotonic() - began > timeout:
            raise RollingError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - began


def restart_one(
    admin: AdminClient, row: dict[str, Any], restarter: Restarter, cfg: RollingConfig
) -> RollingStep:
    backend_id, url = str(row["id"]), str(row["url"])
    admin.drain(backend_id)

    def idle() -> bool:
        current = admin.backend(backend_id)
        return current.get("active") == 0 and not current.get("queued")

    drain_s = _wait(f"{backend_id} to be idle", idle, timeout=cfg.idle_timeout, poll_s=cfg.poll_s)
    began = time.monotonic()
    restarter.stop(url)
    stop_s = time.monotonic() - began
    began = time.monotonic()
    started_wall = time.time()
    restarter.start(url)
    start_s = time.monotonic() - began

    def checked_healthy() -> bool:
        check = admin.backend(backend_id).get("last_check")
        return isinstance(check, dict) and bool(check.get("ok")) and check["at"] >= started_wall

    healthy_s = _wait(
        f"a passing health check of {backend_id}",
        checked_healthy,
        timeout=cfg.ready_timeout,
        poll_s=cfg.poll_s,
    )
    admin.enable(backend_id)
    up_s = _wait(
        f"{backend_id} to be up",
        lambda: admin.backend(backend_id).get("state") == "up",
        timeout=cfg.ready_timeout,
        poll_s=cfg.poll_s,
    )
    return RollingStep(backend_id, url, drain_s, stop_s, start_s, healthy_s, up_s)


def rolling_restart(
    cfg: RollingConfig,
    restarter: Restarter,
    *,
    report: Callable[[str], None] = lambda line: None,
) -> list[RollingStep]:
    """Restart every backend the balancer has, one at a time; raises :class:`RollingError`,
    or :class:`~lab.harness.adminclient.AdminError` when the admin API refuses or is silent."""
    admin = AdminClient(cfg.admin_url, cfg.admin_token)
    rows = [row for row in admin.backends() if not row.get("removing")]
    if not rows:
        raise RollingError("the balancer has no backends")
    not_up = [str(row["id"]) for row in rows if row.get("state") != "up"]
    if not_up:
        raise RollingError(f"refusing to start while {', '.join(not_up)} is not up")
    steps = []
    for row in rows:
        step = restart_one(admin, row, restarter, cfg)
        report(step.describe())
        steps.append(step)
    return steps


# ------------------------------------------------------------- instances of another process


def port_of(url: str) -> int:
    parts = urlsplit(url)
    if parts.port is None:
        raise RollingError(f"backend URL {url} has no port")
    return parts.port


def listener_pid(port: int) -> int:
    pid = procs.port_listener(port)
    if pid is not None:
        return pid
    raise RollingError(f"no process listens on port {port} (or it is not visible to this user)")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log: Path | None
    owner: int


def describe_process(pid: int) -> Launch:
    try:
        proc = psutil.Process(pid)
        log_target = os.readlink(f"/proc/{pid}/fd/1")
        log = (
            Path(log_target) if log_target.startswith("/") and Path(log_target).is_file() else None
        )
        return Launch(proc.cmdline(), proc.environ(), proc.cwd(), log, proc.ppid())
    except (psutil.Error, OSError) as exc:
        raise RollingError(f"cannot read process {pid}: {exc}") from exc


class ProcessRestarter:
    """Restarts the process listening on a backend's port, kept by a watcher (see above)."""

    def __init__(self, stop_timeout: float = 20.0, ready_timeout: float = 60.0) -> None:
        self.stop_timeout = stop_timeout
        self.ready_timeout = ready_timeout
        self._launches: dict[str, Launch] = {}
        #: The watchers started, each keeping one restarted instance (they outlive us).
        self.watchers: list[subprocess.Popen[bytes]] = []

    def stop(self, url: str) -> None:
        pid = listener_pid(port_of(url))
        launch = describe_process(pid)
        self._launches[url] = launch
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not procs.wait_until(lambda: not _running(pid), timeout=self.stop_timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            procs.wait_until(lambda: not _running(pid), timeout=5)

    def start(self, url: str) -> None:
        launch = self._launches.pop(url)
        watcher = [sys.executable, "-m", "lab", "rolling-restart", "--keep", str(launch.owner)]
        log = open(launch.log, "ab") if launch.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            process = subprocess.Popen(
                [*watcher, "--", *launch.argv],
                env=launch.env,
                cwd=launch.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if launch.log:
                log.close()  # type: ignore[union-attr]
        self.watchers.append(process)
        port = port_of(url)
        if not procs.wait_until(
            lambda: procs.port_open("127.0.0.1", port), timeout=self.ready_timeout
        ):
            raise RollingError(f"the restarted instance did not listen on port {port}")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def keep(owner: int, argv: list[str]) -> int:
    """Run argv until it exits, or stop it once ``owner`` has exited."""
    child = procs.spawn(argv, log_path=Path("/dev/stdout"))
    while child.poll() is None:
        if owner > 1 and not _running(owner):
            return procs.stop(child)
        time.sleep(0.5)
    return child.returncode


# ---------------------------------------------------------------------------- command line


def parser(prog: str = "python -m lab rolling-restart") -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog,
        description="Drain, restart and re-enable the balancer's instances one at a time "
        "(against a running `python -m lab up`).",
    )
    p.add_argument("--admin", help="the balancer's admin URL (the admin= line of `lab up`)")
    p.add_argument("--admin-token", default=os.environ.get("BALANCER_ADMIN_TOKEN"))
    p.add_argument("--idle-timeout", type=float, default=30.0, help="wait for idle (30 s)")
    p.add_argument("--ready-timeout", type=float, default=60.0, help="wait for health (60 s)")
    p.add_argument("--keep", type=int, help=argparse.SUPPRESS)
    p.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    return p


def main(argv: list[str], prog: str = "python -m lab rolling-restart") -> int:
    cli = parser(prog)
    args = cli.parse_args(argv)
    if args.keep is not None:
        return keep(args.keep, args.command)
    if not args.admin:
        cli.error("--admin URL is required")
    try:
        cfg = RollingConfig(
            admin_url=args.admin,
            admin_token=args.admin_token,
            idle_timeout=args.idle_timeout,
            ready_timeout=args.ready_timeout,
        )
        steps = rolling_restart(cfg, ProcessRestarter(), report=print)
    except (LabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(len(steps), sum(s.total_s for s in steps)))
    return 0
