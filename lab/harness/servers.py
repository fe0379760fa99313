"""What the embedded PostgreSQL and Redis have in common: a server process of the lab's own
on a free loopback port, stopped with its own signal, and a name with a version for reports.
"""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from lab.errors import StartFailed
from lab.harness import procs


class EmbeddedServer:
    """One server process started by the lab, logging to `log`, listening on `port`."""

    #: The signal that shuts the server down cleanly, and how long it may take.
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 10.0
    #: A human name for messages ("PostgreSQL", "Redis").
    name: str = "server"

    def __init__(self, root: Path, *, log: Path, start_timeout: float) -> None:
        self.root = root
        self.log = log
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None

    @property
    def url(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def answers(self, port: int) -> bool:
        """True once the server on port serves requests (not merely accepts connections)."""
        raise NotImplementedError

    def launch(self, argv_for: Callable[[int], list[str]]) -> None:
        """Start the server on its port (a restart) or on a free port, retrying if another
        process takes the free port between our probe and the server's bind."""
        last_error = ""
        for _ in range(3):
            chosen = self.port or procs.free_port()
            proc = procs.spawn(
                argv_for(chosen), log_path=self.log, user=self.user, death_signal=self.stop_signal
            )
            if procs.wait_until(
                functools.partial(self.answers, chosen),
                timeout=self.start_timeout,
                alive=_running(proc),
            ):
                self.proc, self.port = proc, chosen
                return
            procs.stop(proc, sig=self.stop_signal)
            last_error = procs.log_tail(self.log)
            if self.port is not None or (
                "in use" not in last_error and "could not bind" not in last_error
            ):
                break
        hint = ""
        if self.port is not None and "in use" in last_error:
            hint = f"\nPort {self.port} is taken by another process: stop it, or start afresh."
        raise StartFailed(f"{self.name} did not start; the end of {self.log}:\n{last_error}{hint}")

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc, sig=self.stop_signal, timeout=self.stop_timeout)
            self.proc = None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


def _running(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is None


def where(url: str) -> str:
    """`host:port` of a server URL (just the host when it names no port)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or url)


def server_version(binary: Path) -> str:
    """`Redis 7.0.15` or `Valkey 9.1.2` from `<binary> --version`; the binary's name when it
    does not say."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return binary.name
    if match := re.match(r"(\w+) server v=(\S+)", out):
        return f"{match.group(1)} {match.group(2)}"
    if match := re.match(r"postgres \(PostgreSQL\) (\S+)", out):
        return f"PostgreSQL {match.group(1)}"
    return out.strip() or binary.name
