"""Every metric the Grafana dashboard and the alert rules query is really exposed.

A dashboard panel over a misspelt metric shows "No data" and an alert over one never fires;
neither fails loudly. This starts a real service and a real balancer in front of it, sends
a few requests of every kind through the balancer, scrapes both ``/metrics`` pages (the
balancer's with the bearer token, as Prometheus does) and looks up each name.
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
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.docker.conftest import free_port
from tests.docker.promql import (
    alert_expressions,
    dashboard_expressions,
    exposed_names,
    metric_names,
)

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
ADMIN_TOKEN = "metric-names-test-token"
# Series Prometheus writes itself for every target; no /metrics page has them.
PROMETHEUS_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (REPO / "service" / "app.py").exists()
        or not (REPO / "balancer" / "__main__.py").exists(),
        reason="service/app.py or balancer/__main__.py is not written yet",
    ),
]


def used_metric_names() -> dict[str, list[str]]:
    """Metric name → where it is used ("dashboard: <panel>", "alerts: <rule>")."""
    yaml = pytest.importorskip("yaml")
    dashboard = json.loads((DOCKER / "grafana" / "dashboards" / "authscale.json").read_text())
    alerts = yaml.safe_load((DOCKER / "prometheus" / "alerts.yml").read_text())
    used: dict[str, list[str]] = {}
    for where, expressions in (
        ("dashboard", dashboard_expressions(dashboard)),
        ("alerts", alert_expressions(alerts)),
    ):
        for title, expr in expressions:
            for name in metric_names(expr):
                used.setdefault(name, []).append(f"{where}: {title}")
    return used


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


@pytest.fixture(scope="module")
def deployment(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    log_dir = tmp_path_factory.mktemp("metric-names")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "BALANCER_"))}
    service_port, balancer_port, admin_port = free_port(), free_port(), free_port()
    service_env = {
        **base,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AUTH_BCRYPT_ROUNDS": "4",
        "AUTH_REDIS_PREFIX": f"authscale-metric-names-{uuid.uuid4().hex[:8]}:",
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


def exercise(url: str) -> None:
    """One request of each kind the dashboard shows, successes and failures."""
    email = f"metrics-{uuid.uuid4().hex[:12]}@example.com"
    password = "a long and unusual passphrase 7"
    request(f"{url}/auth/signup", {"email": email, "password": password})
    request(f"{url}/auth/signup", {"email": email, "password": password})  # 409
    request(f"{url}/auth/login", {"email": email, "password": "wrong " + password})  # 401
    _, body = request(f"{url}/auth/login", {"email": email, "password": password})
    tokens = json.loads(body or b"{}")
    first_refresh = tokens.get("refresh_token", "")
    _, body = request(f"{url}/auth/refresh", {"refresh_token": first_refresh})
    rotated = json.loads(body or b"{}")
    request(f"{url}/auth/refresh", {"refresh_token": first_refresh})  # reuse
    _, body = request(f"{url}/auth/login", {"email": email, "password": password})
    again = json.loads(body or b"{}")
    request(
        f"{url}/auth/logout",
        {"refresh_token": again.get("refresh_token", "")},
        headers={
            "Authorization": f"Bearer {again.get('access_token', rotated.get('access_token'))}"
        },
    )
    request(f"{url}/no/such/route")


def served_routes(exposition: str) -> set[str]:
    return {
        sample.labels.get("route", "")
        for family in text_string_to_metric_families(exposition)
        if family.name == "authscale_http_requests"
        for sample in family.samples
        if sample.name == "authscale_http_requests_total"
    }


def balancer_requests(exposition: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "authscale_balancer_backend_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def test_every_dashboard_and_alert_metric_is_exposed(deployment: Deployment) -> None:
    exercise(deployment.balancer_url)

    status, service_page = request(f"{deployment.service_url}/metrics")
    assert status == 200, service_page[:500]
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    status, balancer_page = request(f"{deployment.admin_url}/metrics", headers=auth)
    assert status == 200, balancer_page[:500]

    service_names = exposed_names(service_page.decode())
    balancer_names = exposed_names(balancer_page.decode())
    # The requests above went through the balancer and were counted on both sides.
    assert served_routes(service_page.decode()) >= {"/auth/signup", "/auth/login"}
    assert balancer_requests(balancer_page.decode()) >= 9

    missing = {}
    for name, places in sorted(used_metric_names().items()):
        if name in PROMETHEUS_SERIES:
            continue
        exposed = balancer_names if name.startswith("authscale_balancer_") else service_names
        if name not in exposed:
            missing[name] = places
    assert not missing, "queried but not exposed:\n" + "\n".join(
        f"  {name}  (used by {', '.join(places)})" for name, places in missing.items()
    )


def test_balancer_metrics_need_the_token_prometheus_presents(deployment: Deployment) -> None:
    assert request(f"{deployment.admin_url}/metrics")[0] == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert request(f"{deployment.admin_url}/metrics", headers=wrong)[0] == 401
