"""The stack for real: `python -m lab docker up` on a Docker engine of this machine.

One stack for the whole module (3 replicas, bcrypt cost 4), in this order: the auth flow
through the balancer reaches every replica; a replica killed under load is replaced and
costs only the requests in flight on it; a rolling update under load costs nothing;
Prometheus scrapes the balancer and every replica and every dashboard and alert expression
has data; `down` leaves no daemon, container, link or iptables chain behind.
Skipped, with the reason, where no engine answers and none can be started (not root, no
docker.io, no debootstrap).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.promql import alert_expressions, dashboard_expressions
from tests.docker.swarm import (
    PASSWORD,
    REPO,
    Stack,
    build_images,
    call,
    grafana_to_promql,
    load,
    measured,
    running_stack,
    wait_until,
    why_no_engine,
)

yaml = pytest.importorskip("yaml")

_WHY = why_no_engine()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(_WHY is not None, reason=f"no Docker engine for the Swarm tests: {_WHY}"),
    # Image builds and Swarm's own pace (health checks, update delays) take minutes.
    pytest.mark.timeout(900),
]

REPLICAS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("swarm")
    build_images(logs)
    with running_stack(logs, "--replicas", str(REPLICAS), "--bcrypt-rounds", "4") as running:
        yield running


def up_urls(stack: Stack) -> set[str]:
    return {b["url"] for b in stack.backends() if b["state"] == "up"}


def test_up_prints_its_endpoints_and_every_replica_serves(stack: Stack) -> None:
    assert set(stack.lines) >= {"balancer", "admin", "prometheus"}
    assert len(up_urls(stack)) == REPLICAS
    before = {b["url"]: b["total"] for b in stack.backends()}

    email = f"flow-{time.time_ns()}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    assert call(stack.balancer, "POST", "/auth/signup", credentials)[0] == 201
    status, login = call(stack.balancer, "POST", "/auth/login", credentials)
    assert status == 200
    status, refreshed = call(
        stack.balancer, "POST", "/auth/refresh", {"refresh_token": login["refresh_token"]}
    )
    assert status == 200
    assert refreshed["refresh_token"] != login["refresh_token"]
    status, me = call(stack.balancer, "GET", "/auth/me", token=refreshed["access_token"])
    assert (status, me.get("email")) == (200, email)
    status, _ = call(
        stack.balancer,
        "POST",
        "/auth/logout",
        {"refresh_token": refreshed["refresh_token"]},
        token=refreshed["access_token"],
    )
    assert status == 204
    assert call(stack.balancer, "GET", "/auth/me", token=refreshed["access_token"])[0] == 401
    # The service's metrics are on their own listener, not behind the balancer.
    assert call(stack.balancer, "GET", "/metrics")[0] == 404

    for _ in range(3 * REPLICAS):
        assert call(stack.balancer, "GET", "/health/ready")[0] == 200
    served = {b["url"]: b["total"] - before.get(b["url"], 0) for b in stack.backends()}
    assert all(count > 0 for count in served.values()), served


def service_tasks(stack: Stack) -> dict[str, str]:
    """Running service containers: id → task name."""
    out = stack.docker(
        "ps",
        "--filter",
        "label=com.docker.swarm.service.name=authscale_service",
        "--format",
        '{{.ID}} {{.Label "com.docker.swarm.task.name"}}',
    )
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def container_address(stack: Stack, container: str) -> str:
    return stack.docker(
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
        container,
    ).split()[0]


def check_rows(stack: Stack, tag: str, ledger: Any) -> None:
    """Every signup answered 201 has exactly one row; no other row appeared except from a
    signup whose answer was lost with the victim."""
    rows = int(stack.psql(f"SELECT count(*) FROM users WHERE email LIKE '{tag}-%'"))
    distinct = int(
        stack.psql(f"SELECT count(DISTINCT email) FROM users WHERE email LIKE '{tag}-%'")
    )
    lost_signups = sum(1 for row in ledger.failed() if row[0] == "signup")
    assert rows == distinct
    assert len(ledger.signed_up) <= rows <= len(ledger.signed_up) + lost_signups
    for email in ledger.signed_up[:: max(1, len(ledger.signed_up) // 20)]:
        assert stack.psql(f"SELECT count(*) FROM users WHERE email = '{email}'") == "1"


def no_replays(ledger: Any) -> None:
    """A replayed POST shows itself: a signup answered 409 (the first try made the row) or
    a refresh answered token_reused (the first try rotated it)."""
    codes = [row[2] for row in ledger.rows]
    assert "email_taken" not in codes
    assert "token_reused" not in codes


def test_a_killed_replica_is_replaced_and_costs_only_its_requests_in_flight(
    stack: Stack,
) -> None:
    workers = 6
    tasks = service_tasks(stack)
    victim = sorted(tasks)[0]
    victim_url = f"http://{container_address(stack, victim)}:8000"
    with load(stack.balancer, "chaos", workers=workers) as ledger:
        time.sleep(8)
        kill_sent = time.monotonic()
        stack.docker("kill", victim)
        killed_at = time.monotonic()
        # The balancer drops the victim (DNS no longer lists it, checks fail) …
        wait_until(lambda: victim_url not in up_urls(stack), 60, "the victim's ejection")
        # … and admits the task Swarm starts in its place once tasks.service lists it.
        wait_until(
            lambda: len(up_urls(stack)) == REPLICAS and victim not in service_tasks(stack),
            180,
            "a replacement replica admitted by the balancer",
        )
        time.sleep(5)
    new = set(service_tasks(stack)) - set(tasks)
    assert len(new) == 1, "Swarm replaces the killed task with one new task"
    assert len(ledger.rows) > 50, "the load ran"
    failed = ledger.failed()
    # At most one request per worker was in flight on the victim when it died, and each
    # failure was in flight then: begun before the kill returned, ended after it was sent.
    assert len(failed) <= workers, failed
    for row in failed:
        assert row[3] <= killed_at, row
        assert row[4] >= kill_sent, row
    no_replays(ledger)
    check_rows(stack, "chaos", ledger)


def test_a_rolling_update_loses_nothing(stack: Stack) -> None:
    before = set(service_tasks(stack))
    with load(stack.balancer, "rolling", workers=4) as ledger:
        time.sleep(5)
        # Blocks until every task is replaced (parallelism 1, start-first, 10 s apart).
        stack.docker("service", "update", "--force", "--quiet", "authscale_service", timeout=600)
        wait_until(lambda: len(up_urls(stack)) == REPLICAS, 120, "every replica up again")
        time.sleep(5)
    after = set(service_tasks(stack))
    assert not before & after, "every task was replaced"
    assert len(ledger.rows) > 50
    assert ledger.failed() == []
    no_replays(ledger)
    check_rows(stack, "rolling", ledger)


def prometheus_query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{stack.prometheus}/api/v1/query?{query}", timeout=10) as r:
        answer = json.loads(r.read())
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def test_prometheus_scrapes_everything_and_every_expression_has_data(stack: Stack) -> None:
    with urllib.request.urlopen(f"{stack.prometheus}/api/v1/targets", timeout=10) as r:
        targets = json.loads(r.read())["data"]["activeTargets"]
    by_job: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        by_job.setdefault(target["labels"]["job"], []).append(target)

    def scraped() -> bool:
        nonlocal by_job
        with urllib.request.urlopen(f"{stack.prometheus}/api/v1/targets", timeout=10) as r:
            found = json.loads(r.read())["data"]["activeTargets"]
        by_job = {}
        for target in found:
            by_job.setdefault(target["labels"]["job"], []).append(target)
        service = [t for t in by_job.get("service", []) if t["health"] == "up"]
        balancer = [t for t in by_job.get("balancer", []) if t["health"] == "up"]
        return len(service) == REPLICAS and len(balancer) == 1

    wait_until(scraped, 60, "every replica and the balancer scraped")
    # Found through Swarm's DNS, on the service's metrics listener.
    assert all(t["scrapeUrl"].endswith(":9100/metrics") for t in by_job["service"])

    # Traffic of every kind the panels show: successes, a wrong password, a reused token.
    with load(stack.balancer, "prometheus", workers=3):
        email = f"metrics-{time.time_ns()}@example.com"
        credentials = {"email": email, "password": PASSWORD}
        call(stack.balancer, "POST", "/auth/signup", credentials)
        wrong = {"email": email, "password": "not the password at all 1"}
        assert call(stack.balancer, "POST", "/auth/login", wrong)[0] == 401
        _, login = call(stack.balancer, "POST", "/auth/login", credentials)
        token = {"refresh_token": login["refresh_token"]}
        assert call(stack.balancer, "POST", "/auth/refresh", token)[0] == 200
        assert call(stack.balancer, "POST", "/auth/refresh", token)[0] == 401
        time.sleep(20)  # four scrapes, so rate() over 1m has points

    dashboard = json.loads((REPO / "docker/grafana/dashboards/authscale.json").read_text())
    alerts = yaml.safe_load((REPO / "docker/prometheus/alerts.yml").read_text())
    expressions = [
        (f"panel {t}", grafana_to_promql(e)) for t, e in dashboard_expressions(dashboard)
    ]
    expressions += [(f"alert {t}", measured(e)) for t, e in alert_expressions(alerts)]
    assert len(expressions) > 30
    empty = [
        f"{where}: {' '.join(expr.split())}"
        for where, expr in expressions
        if not re.search(r"\$\w", expr) and not prometheus_query(stack, expr)
    ]
    assert empty == []


def host_state() -> tuple[str, str, str]:
    def out(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    return (
        out("ip", "-o", "link", "show"),
        out("iptables", "-S"),
        out("iptables", "-t", "nat", "-S"),
    )


def test_down_leaves_nothing_behind(stack: Stack) -> None:
    from lab.docker.netclean import LINK_PREFIXES

    record = json.loads((Path(stack.lines["secrets"]).parent / "engine.json").read_text())
    started_here = bool(record.get("pid"))
    output = stack.stop()
    assert "left behind" not in output, output
    assert stack.process.returncode == 0, stack.log.read_text()[-3000:]
    if not started_here:
        pytest.skip("the engine was there before; only the stack was removed")
    links, rules, nat = host_state()
    names = [line.split(":")[1].strip() for line in links.splitlines()]
    assert not [n for n in names if n.startswith(LINK_PREFIXES)], names
    assert "DOCKER" not in rules + nat
    pid = int(record["pid"])
    assert not Path(f"/proc/{pid}/exe").exists(), "dockerd still runs"
