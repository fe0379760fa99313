"""The Docker engine the lab talks to: one that already answers, or a dockerd of its own.

An engine of its own keeps everything under ``<state>/docker`` (data root, exec root,
socket, log; the exec root and socket move to a short folder under the system's temporary
folder when the checkout's path is too long for unix sockets) and a record,
``engine.json``, of what the lab made: the daemon's pid, whether it initialised the swarm,
and the host's network state before the daemon started, so that `python -m lab docker
down` — from any process — stops the daemon and removes the bridges, veths and iptables
chains it left behind, and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.docker import netclean
from lab.docker.errors import EngineError
from lab.harness.procs import pid_alive

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
#: The longest state folder whose exec root can hold containerd's sockets.
MAX_SOCKET_PARENT = 60
IPVS_PROC = Path("/proc/sys/net/ipv4/vs")
NO_IPVS_NOTE = (
    "note: no IPVS in this kernel (/proc/sys/net/ipv4/vs is absent): Swarm's service VIPs "
    "and routing mesh do not answer here; the entry is our balancer, published in host "
    "mode, which finds the replicas through tasks.service"
)


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    state_dir: Path
    start_timeout: float = 60.0
    stop_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.start_timeout <= 0 or self.stop_timeout <= 0:
            raise ValueError("engine timeouts must be positive")

    @property
    def runtime_dir(self) -> Path:
        """Where the exec root and the sockets live: the state folder itself, unless its
        path is too long for them (a unix socket path is limited to 107 bytes, and
        containerd's lives deeper still), then a short folder named after it."""
        state = self.state_dir.resolve()
        if len(str(state)) <= MAX_SOCKET_PARENT:
            return state
        digest = hashlib.sha256(str(state).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"authscale-docker-{digest}"


def docker_cli() -> str:
    """A docker CLI that can build with BuildKit: one with buildx, or one from before
    Docker 23, whose BuildKit is built in (Debian's docker.io). Else any docker."""
    found = [p for p in (shutil.which("docker"), "/usr/bin/docker") if p and Path(p).exists()]
    for cli in dict.fromkeys(found):
        if _ok([cli, "buildx", "version"]):
            return cli
        # "Docker version 20.10.24+dfsg1, build 297e128" (needs no daemon, unlike
        # `docker version`).
        words = _text([cli, "--version"]).split()
        major = words[2].split(".", 1)[0] if len(words) > 2 else ""
        if major.isdigit() and int(major) < 23:
            return cli
    if not found:
        raise EngineError("no docker CLI: install docker.io (apt-get install docker.io)")
    return found[0]


def _ok(argv: list[str], env: dict[str, str] | None = None) -> bool:
    try:
        return (
            subprocess.run(argv, capture_output=True, timeout=15, env=env, check=False).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def _text(argv: list[str], env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=15, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def can_start_engine() -> str | None:
    """Why this machine cannot run an engine of the lab's own, or None when it can."""
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    for tool in ("dockerd", "docker", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install docker.io)"
    return None


class Engine:
    """Run docker commands against the engine; start and stop one of the lab's own."""

    def __init__(self, cfg: EngineConfig) -> None:
        self.cfg = cfg
        self.dir = cfg.state_dir
        self.runtime = cfg.runtime_dir
        self.cli = docker_cli()
        self.host = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET

    # ---- the record ---------------------------------------------------------------------

    @property
    def record_path(self) -> Path:
        return self.dir / "engine.json"

    def record(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return {}
        return data

    def _write_record(self, data: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.record_path)

    def note(self, **changes: Any) -> None:
        self._write_record({**self.record(), **changes})

    # ---- commands ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def run(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 120,
        check: bool = True,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = [self.cli, *args]
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**self.env(), **(env or {})},
                cwd=cwd,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"`docker {' '.join(args[:3])}` took over {timeout:g} s") from exc
        if check and done.returncode != 0:
            raise EngineError(
                f"`docker {' '.join(args[:4])}` failed: {(done.stderr or done.stdout).strip()}"
            )
        return done

    def answers(self) -> bool:
        return _ok([self.cli, "version", "--format", "{{.Server.Version}}"], self.env())

    # ---- lifecycle -----------------------------------------------------------------------

    def ensure(self) -> bool:
        """Use an engine that answers, or start one; True when this call started it."""
        ours = self.record()
        if ours.get("host") and pid_alive(int(ours.get("pid") or 0)):
            self.host = str(ours["host"])
            if self.answers():
                return False
        self.host = os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        if self.answers():
            return False
        why = can_start_engine()
        if why:
            raise EngineError(f"no Docker engine answers at {self.host} and {why}")
        self._start()
        return True

    def _start(self) -> None:
        data, execroot = self.dir / "data", self.runtime / "exec"
        for folder in (data, execroot):
            folder.mkdir(parents=True, exist_ok=True)
        sock = self.runtime / "docker.sock"
        before = netclean.snapshot()
        log = (self.dir / "dockerd.log").open("ab")
        try:
            proc = subprocess.Popen(
                [
                    shutil.which("dockerd") or "dockerd",
                    "--data-root",
                    str(data.resolve()),
                    "--exec-root",
                    str(execroot.resolve()),
                    "--pidfile",
                    str((self.dir / "dockerd.pid").resolve()),
                    "--host",
                    f"unix://{sock}",
                ],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                # Its own session: a Ctrl-C meant for the lab must not kill the daemon
                # before the lab has removed the stack.
                start_new_session=True,
            )
        finally:
            log.close()
        self.host = f"unix://{sock}"
        self._write_record(
            {"pid": proc.pid, "host": self.host, "started_at": time.time(), "net": before.to_dict()}
        )
        deadline = time.monotonic() + self.cfg.start_timeout
        while not self.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EngineError(
                    f"dockerd did not start in {self.cfg.start_timeout:g} s; see "
                    f"{self.dir / 'dockerd.log'}"
                )
            time.sleep(0.3)

    def stop(self) -> list[str]:
        """Stop the engine this lab started (if any) and remove what it left in the host's
        network and mounts; returns the cleanup steps that failed."""
        ours = self.record()
        pid = int(ours.get("pid") or 0)
        if not pid:
            return []
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.cfg.stop_timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        _reap(pid)
        self._kill_leftover_processes()
        failed = self._unmount()
        before = netclean.NetState.from_dict(ours.get("net", {}))
        failed += netclean.apply(netclean.cleanup_commands(before, netclean.snapshot()))
        self.record_path.unlink(missing_ok=True)
        return failed

    def _kill_leftover_processes(self) -> None:
        """containerd and shims of ours that outlived the daemon (found by their paths)."""
        markers = {str(self.dir.resolve()), str(self.runtime)}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ours = any(marker in cmdline for marker in markers)
            if ours and ("containerd" in cmdline or "dockerd" in cmdline):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)

    def _unmount(self) -> list[str]:
        """Mounts under the state folder (overlays, netns, secrets), deepest first."""
        markers = (str(self.dir.resolve()) + "/", str(self.runtime) + "/")
        try:
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        except OSError:
            return []
        failed = []
        ours = (m for m in mounts if m.startswith(markers))
        for target in sorted(ours, key=len, reverse=True):
            done = subprocess.run(
                ["umount", "--lazy", target], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                failed.append(f"umount {target}: {done.stderr.strip()}")
        return failed


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def ipvs_available() -> bool:
    return IPVS_PROC.exists()


@dataclass
class OnEngine:
    """What works through an engine on the project's files (the images, the stack): the
    engine, the repository, its state folder, and where it says what it does."""

    engine: Engine
    repo: Path
    dir: Path
    say: Callable[[str], None] = print
