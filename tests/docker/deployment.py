"""A real service with a real balancer in front, on loopback, for the deployment tests.

The same two programs the containers run, started as ``python -m service`` and
``python -m balancer`` with the settings the deployments give them where they matter here
(a bearer token on the admin API), and the session's Postgres and Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.harness.procs import free_port

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "deployment-test-token"

needs_programs = pytest.mark.skipif(
    not (REPO / "service" / "app.py").exists() or not (REPO / "balancer" / "__main__.py").exists(),
    reason="service/app.py or balancer/__main__.py is not written yet",
)


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *argv], env=env, cwd=REPO, stdout=log, stderr=log
        )
    return Process(name, process, log_path)


def request(
    url: str, body: object = None, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    req = urllib.request.Request(
        url, data=data, headers=all_headers, method="POST" if data else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def wait_for(process: Process, url: str, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            pytest.fail(f"{process.name} exited at startup:\n{process.log()}")
        if request(url, headers=headers, timeout=1)[0] == 200:
            return
        time.sleep(0.1)
    pytest.fail(f"{process.name} did not answer {url} in 30 s:\n{process.log()}")


@dataclass
class Deployment:
    service_url: str
    balancer_url: str
    admin_url: str
    #: The service's metrics listener (AUTH_METRICS_LISTEN), as Prometheus scrapes it.
    metrics_url: str


@contextmanager
def running_deployment(database_url: str, redis_url: str, log_dir: Path) -> Iterator[Deployment]:
    """Start the service, then the balancer in front of it; stop both at exit."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "BALANCER_"))}
    service_port, balancer_port, admin_port = free_port(), free_port(), free_port()
    metrics_port = free_port()
    service_env = {
        **base,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AUTH_BCRYPT_ROUNDS": "4",
        "AUTH_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "AUTH_REDIS_PREFIX": f"authscale-docker-tests-{uuid.uuid4().hex[:8]}:",
    }
    service = start(
        "service",
        ["service", "--host", "127.0.0.1", "--port", str(service_port), "--dev"],
        service_env,
        log_dir,
    )
    processes = [service]
    try:
        deployment = Deployment(
            service_url=f"http://127.0.0.1:{service_port}",
            balancer_url=f"http://127.0.0.1:{balancer_port}",
            admin_url=f"http://127.0.0.1:{admin_port}",
            metrics_url=f"http://127.0.0.1:{metrics_port}",
        )
        wait_for(service, f"{deployment.service_url}/health/ready")
        balancer = start(
            "balancer",
            [
                "balancer",
                "--listen",
                f"127.0.0.1:{balancer_port}",
                "--backend",
                deployment.service_url,
                "--admin",
                f"127.0.0.1:{admin_port}",
            ],
            {**base, "BALANCER_ADMIN_TOKEN": ADMIN_TOKEN},
            log_dir,
        )
        processes.append(balancer)
        wait_for(balancer, f"{deployment.balancer_url}/health/live")
        yield deployment
    finally:
        for process in reversed(processes):
            process.stop()
