"""The stack of `python -m lab docker up` for the Swarm tests: started once, driven over
its published ports, stopped (and checked for leftovers) at the end, even on failure."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long and unusual passphrase 7"


def why_no_engine() -> str | None:
    """Why the Swarm tests cannot run here, or None when they can."""
    from lab.docker.engine import can_start_engine, docker_cli
    from lab.errors import LabError

    try:
        cli = docker_cli()
    except LabError as exc:
        return str(exc)
    probe = subprocess.run([cli, "version"], capture_output=True, timeout=15, check=False)
    answers = probe.returncode == 0
    if answers:
        return None
    why = can_start_engine()
    if why is None and shutil.which("debootstrap") is None:
        return "debootstrap is not installed (apt-get install debootstrap)"
    return why


def call(
    base: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, Any]]:
    """One request on a fresh connection; (0, {}) when the connection failed."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        response = conn.getresponse()
        raw = response.read()
    except OSError:
        return 0, {}
    finally:
        conn.close()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return response.status, data if isinstance(data, dict) else {"_": data}


@dataclass
class Stack:
    lines: dict[str, str]
    process: subprocess.Popen[str]
    log: Path
    started_s: float
    stopped: bool = False
    drain: threading.Thread | None = None

    @property
    def balancer(self) -> str:
        return self.lines["balancer"]

    @property
    def admin(self) -> str:
        return self.lines["admin"]

    @property
    def prometheus(self) -> str:
        return self.lines["prometheus"]

    @property
    def admin_token(self) -> str:
        folder = Path(self.lines["secrets"])
        return (folder / "authscale_balancer_admin_token").read_text()

    def backends(self) -> list[dict[str, Any]]:
        status, data = call(self.admin, "GET", "/backends", token=self.admin_token)
        assert status == 200, status
        return list(data["backends"])

    def docker(self, *args: str, timeout: float = 120) -> str:
        from lab.docker.engine import Engine, EngineConfig

        engine = Engine(EngineConfig(state_dir=Path(self.lines["secrets"]).parent))
        record = engine.record()
        if record.get("host"):
            engine.host = str(record["host"])
        return engine.run(*args, timeout=timeout).stdout

    def psql(self, sql: str) -> str:
        container = self.docker(
            "ps", "-q", "--filter", "label=com.docker.swarm.service.name=authscale_postgres"
        ).split()[0]
        return self.docker(
            "exec", container, "psql", "-U", "authscale", "-d", "authscale", "-tAc", sql
        ).strip()

    def stop(self) -> str:
        """Ctrl-C to `up`, then `down` as a safety net; returns `down`'s output."""
        if self.stopped:
            return ""
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=240)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.drain is not None:
            self.drain.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        down = subprocess.run(
            [sys.executable, "-m", "lab", "docker", "down"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return down.stdout + down.stderr


def build_images(log_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab", "docker", "images"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    (log_dir / "images.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@contextlib.contextmanager
def running_stack(log_dir: Path, *args: str) -> Iterator[Stack]:
    log = log_dir / "up.log"
    began = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lab", "docker", "up", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
        )
    lines: dict[str, str] = {}
    stack = Stack(lines=lines, process=process, log=log, started_s=0.0)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            key, _, value = line.strip().partition("=")
            if line.strip() == "ready":
                break
            if value:
                lines[key] = value.split(" ")[0]
        else:
            raise AssertionError(f"`lab docker up` ended before ready:\n{log.read_text()[-4000:]}")
        stack.started_s = time.monotonic() - began
        # Keep draining stdout so that `up` never blocks on a full pipe.
        stack.drain = threading.Thread(target=process.stdout.read, daemon=True)
        stack.drain.start()
        yield stack
    finally:
        stack.stop()


# ---- load with a ledger ------------------------------------------------------------------


@dataclass
class Ledger:
    """Every request the load made: (step, status, error code, start, end)."""

    rows: list[tuple[str, int, str, float, float]] = field(default_factory=list)
    signed_up: list[str] = field(default_factory=list)
    attempted_signups: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, status: int, data: dict[str, Any], start: float) -> None:
        code = str(data.get("error", {}).get("code", "")) if isinstance(data, dict) else ""
        with self.lock:
            self.rows.append((step, status, code, start, time.monotonic()))

    def failed(self) -> list[tuple[str, int, str, float, float]]:
        ok = {"signup": 201, "login": 200, "refresh": 200, "logout": 204}
        return [row for row in self.rows if row[1] != ok[row[0]]]


def iteration(base: str, ledger: Ledger, tag: str) -> None:
    email = f"{tag}-{uuid.uuid4().hex[:16]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    with ledger.lock:
        ledger.attempted_signups.append(email)
    start = time.monotonic()
    status, data = call(base, "POST", "/auth/signup", credentials)
    ledger.add("signup", status, data, start)
    if status != 201:
        return
    with ledger.lock:
        ledger.signed_up.append(email)
    start = time.monotonic()
    status, data = call(base, "POST", "/auth/login", credentials)
    ledger.add("login", status, data, start)
    if status != 200:
        return
    start = time.monotonic()
    status, data = call(base, "POST", "/auth/refresh", {"refresh_token": data["refresh_token"]})
    ledger.add("refresh", status, data, start)
    if status != 200:
        return
    start = time.monotonic()
    status, data = call(
        base,
        "POST",
        "/auth/logout",
        {"refresh_token": data["refresh_token"]},
        token=data["access_token"],
    )
    ledger.add("logout", status, data, start)


@contextlib.contextmanager
def load(base: str, tag: str, workers: int = 6) -> Iterator[Ledger]:
    """Closed-loop load by ``workers`` threads until the block ends."""
    ledger = Ledger()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            iteration(base, ledger, tag)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        yield ledger
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(1.0)


# ---- PromQL ------------------------------------------------------------------------------

_COMPARISON = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*[-+0-9.e]+(\s*\*.*)?\s*$", re.S)


def measured(expr: str) -> str:
    """An alert expression without its threshold: the quantity the rule watches.

    ``x > 0.01`` keeps only ``x``; for ``a > 5 * b + 1`` the left side is kept too.
    """
    return _COMPARISON.sub("", expr).strip()


def grafana_to_promql(expr: str) -> str:
    return expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
