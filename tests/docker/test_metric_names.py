"""Every metric the Grafana dashboard and the alert rules query is really exposed.

A dashboard panel over a misspelt metric shows "No data" and an alert over one never fires;
neither fails loudly. This starts a real service and a real balancer in front of it, sends
a few requests of every kind through the balancer, scrapes both ``/metrics`` pages (the
balancer's with the bearer token, as Prometheus does) and looks up each name.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.docker.deployment import ADMIN_TOKEN, Deployment, needs_programs, request
from tests.docker.promql import (
    alert_expressions,
    dashboard_expressions,
    exposed_names,
    metric_names,
)

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
# Series Prometheus writes itself for every target; no /metrics page has them.
PROMETHEUS_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}

pytestmark = [pytest.mark.integration, needs_programs]


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

    # The metrics listener answers; the public port (what the balancer forwards) does not.
    assert request(f"{deployment.service_url}/metrics")[0] == 404
    status, service_page = request(f"{deployment.metrics_url}/metrics")
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
