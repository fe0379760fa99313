"""The deployment files, read as data: what the issue asks of them, and that they agree.

These checks need no Docker engine. They catch the mistakes a reader would: a path that one
file writes and another reads differently, a replica count, a missing healthcheck, a
dashboard query against a data source that is not provisioned.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.docker.promql import alert_expressions, dashboard_expressions, metric_names

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"


def load_yaml(name: str) -> dict[str, Any]:
    # Every deployment file is a mapping at the top; the stub-less yaml module gives Any.
    document: dict[str, Any] = yaml.safe_load((DOCKER / name).read_text())
    return document


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml("compose.yml")


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_yaml("stack.yml")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (DOCKER / "grafana" / "dashboards" / "authscale.json").read_text()
    )
    return document


@pytest.fixture(scope="module")
def alerts() -> dict[str, Any]:
    return load_yaml("prometheus/alerts.yml")


def command_args(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def option(service: dict[str, Any], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in a service's command."""
    args = command_args(service)
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path → source (volume name or host path) of a service's volumes."""
    result = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        result[target] = source
    return result


def volume_of(service: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(source, path inside it) of the mount holding ``path``, deepest mount first."""
    for target in sorted(mounts(service), key=len, reverse=True):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return mounts(service)[target], str(PurePosixPath(path).relative_to(target))
    return None


def secret_path(service: dict[str, Any], secret: str) -> str:
    """Where a service sees a Docker secret (long or short syntax)."""
    for entry in service.get("secrets", []):
        source = entry if isinstance(entry, str) else entry["source"]
        if source == secret:
            target = source if isinstance(entry, str) else entry.get("target", source)
            return target if target.startswith("/") else f"/run/secrets/{target}"
    raise AssertionError(f"the service has no secret {secret!r}")


def default(value: object) -> str:
    """A ``${VAR:-default}`` value as its default (other values as they are)."""
    return re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", str(value))


def healthcheck_test(service: dict[str, Any]) -> str:
    check = service.get("healthcheck", {})
    assert not check.get("disable"), "healthcheck disabled"
    test = check.get("test")
    assert test, "no healthcheck"
    return " ".join(test) if isinstance(test, list) else str(test)


# ---- Dockerfile and .dockerignore --------------------------------------------------------


def dockerfile_stages() -> list[list[str]]:
    """Instructions of each stage (continuation lines joined, comments dropped)."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_on_a_slim_python() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    for stage in stages:
        assert stage[0].startswith("FROM ${BASE_IMAGE} AS "), stage[0]
    text = (DOCKER / "Dockerfile").read_text()
    # The real-world default; the lab passes a local base only where nothing can be pulled.
    assert re.search(r"^ARG BASE_IMAGE=python:\$\{PYTHON_VERSION\}-slim-bookworm$", text, re.M)
    # The engine's built-in frontend: a `# syntax=` line would pull one from a registry.
    assert not re.search(r"^#\s*syntax=", text, re.M)
    version = re.search(
        r"^ARG PYTHON_VERSION=(\d+)\.(\d+)$", (DOCKER / "Dockerfile").read_text(), re.M
    )
    assert version
    assert (int(version[1]), int(version[2])) >= (3, 11)
    builder = " ".join(stages[0])
    assert "pip wheel" in builder
    assert "ARG COMPILERS=build-essential" in builder
    # The CA bundle arrives as a secret mount, which no layer keeps.
    assert "--mount=type=secret,id=ca_bundle" in builder
    assert "ca-certificates.crt" not in text


def test_final_stage_has_no_build_tools_and_runs_as_non_root() -> None:
    final = dockerfile_stages()[-1]
    text = "\n".join(final)
    assert "apt-get install" not in text
    assert not re.search(r"\b(gcc|build-essential|make|curl)\b", text)
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users, "no USER in the final stage"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_image_healthcheck_probes_liveness_with_python() -> None:
    final = "\n".join(dockerfile_stages()[-1])
    healthcheck = re.search(r"^HEALTHCHECK .*CMD (.*)$", final, re.M)
    assert healthcheck
    assert "/health/live" in healthcheck[1]
    assert "authscale-healthcheck" in healthcheck[1]
    assert (DOCKER / "bin" / "healthcheck.py").read_text().startswith("#!/usr/bin/env python3")


def test_image_entrypoint_and_default_command() -> None:
    final = "\n".join(dockerfile_stages()[-1])
    assert 'ENTRYPOINT ["authscale-entrypoint"]' in final
    assert 'CMD ["service", "--host", "0.0.0.0", "--port", "8000"]' in final


def test_files_the_dockerfile_copies_exist() -> None:
    for line in "\n".join(dockerfile_stages()[-1]).splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            source = next(word for word in line.split()[1:] if not word.startswith("--"))
            assert (REPO / source).is_file(), source


def test_image_uid_matches_the_secret_owner_in_the_stack(stack: dict[str, Any]) -> None:
    uid = re.search(r"^ARG APP_UID=(\d+)$", (DOCKER / "Dockerfile").read_text(), re.M)
    assert uid
    for name in ("service", "balancer"):
        for entry in stack["services"][name]["secrets"]:
            assert str(entry["uid"]) == uid[1], (name, entry)


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(
                PurePosixPath(prefix).name, bare
            ):
                return True
    return False


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".lab/x",
        "tests/conftest.py",
        "docker/secrets/jwt.pem",
        "k.pem",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert ignored(path, dockerignore_patterns())


@pytest.mark.parametrize(
    "path",
    [
        "setup.cfg",
        "pyproject.toml",
        "README.md",
        "service/app.py",
        "balancer/__main__.py",
        "loadgen/__main__.py",
        "lab/__main__.py",
        "service/migrations/001.sql",
        "docker/Dockerfile",
        "docker/bin/entrypoint.sh",
    ],
)
def test_dockerignore_keeps_build_inputs(path: str) -> None:
    assert not ignored(path, dockerignore_patterns())


# ---- compose.yml -------------------------------------------------------------------------


def test_compose_has_the_whole_topology(compose: dict[str, Any]) -> None:
    expected = {"postgres", "redis", "service", "balancer", "prometheus", "grafana"}
    assert expected <= set(compose["services"])


def test_compose_runs_three_unpublished_replicas(compose: dict[str, Any]) -> None:
    service = compose["services"]["service"]
    assert service["deploy"]["replicas"] == 3
    assert "ports" not in service, "replicas are reached through the balancer only"
    assert "container_name" not in service, "a fixed name prevents scaling"
    assert "/health/live" in healthcheck_test(service)


def test_compose_service_settings(compose: dict[str, Any]) -> None:
    env = compose["services"]["service"]["environment"]
    assert str(env["AUTH_TRUSTED_PROXIES"]) == "1"
    assert env["AUTH_LOG_FORMAT"] == "json"
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://authscale:${REDIS_PASSWORD:?")
    assert env["REDIS_URL"].endswith("@redis:6379/0")


def test_compose_balancer_discovers_replicas_by_dns(compose: dict[str, Any]) -> None:
    balancer = compose["services"]["balancer"]
    assert option(balancer, "--backend-dns") == "service:8000"
    assert option(balancer, "--listen") == "0.0.0.0:8000"
    assert option(balancer, "--admin") == "0.0.0.0:8404"
    assert "tcp://127.0.0.1:8000" in healthcheck_test(balancer)


def test_compose_keys_come_from_the_keygen_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    keygen, service, balancer = services["keygen"], services["service"], services["balancer"]
    jwt_written = volume_of(keygen, option(keygen, "--jwt-key") or "")
    token_written = volume_of(keygen, option(keygen, "--admin-token") or "")
    assert jwt_written
    assert token_written

    assert volume_of(service, service["environment"]["AUTH_JWT_PRIVATE_KEY_FILE"]) == jwt_written
    token_file = balancer["environment"]["BALANCER_ADMIN_TOKEN_FILE"]
    assert volume_of(balancer, token_file) == token_written

    # Prometheus presents the same token.
    scrape = {
        job["job_name"]: job for job in load_yaml("prometheus/prometheus.yml")["scrape_configs"]
    }
    credentials = scrape["balancer"]["authorization"]["credentials_file"]
    assert volume_of(services["prometheus"], credentials) == token_written
    # The signing key is not shared with anything but the service.
    for name, other in services.items():
        if name not in ("keygen", "service"):
            assert jwt_written[0] not in mounts(other).values(), name
    for name in ("service", "balancer", "prometheus"):
        assert (
            services[name]["depends_on"]["keygen"]["condition"] == "service_completed_successfully"
        )


def test_compose_has_no_default_secrets(compose: dict[str, Any]) -> None:
    text = (DOCKER / "compose.yml").read_text()
    for variable in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        uses = re.findall(r"\$\{" + variable + r"(:?[-?])", text)
        assert uses, variable
        assert set(uses) == {":?"}, f"{variable} must be required, never defaulted"
    assert "--web.enable-lifecycle" not in command_args(compose["services"]["prometheus"])
    redis = " ".join(command_args(compose["services"]["redis"]))
    assert "default on nopass -@all +ping" in redis
    env = compose["services"]["service"]["environment"]
    assert env["AUTH_TOKEN_PEPPER_FILE"].startswith("/var/lib/authscale/keys/")
    assert env["AUTH_METRICS_LISTEN"] == "0.0.0.0:9100"


def test_stack_redis_needs_a_password_and_the_service_has_it(stack: dict[str, Any]) -> None:
    redis = stack["services"]["redis"]
    args = command_args(redis)
    assert args[args.index("--aclfile") + 1] == secret_path(redis, "redis_acl")
    service = stack["services"]["service"]
    assert service["environment"]["REDIS_URL_FILE"] == secret_path(service, "redis_url")
    assert service["environment"]["AUTH_TOKEN_PEPPER_FILE"] == secret_path(service, "token_pepper")


def test_compose_state_and_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in healthcheck_test(services["postgres"])
    assert "ping" in healthcheck_test(services["redis"])
    assert volume_of(services["postgres"], "/var/lib/postgresql/18/docker")
    assert volume_of(services["redis"], "/data")
    depends = services["service"]["depends_on"]
    assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"


def test_compose_bind_mounts_exist(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for target, source in mounts(service).items():
            if source in named:
                continue
            assert (DOCKER / source).exists(), f"{name}: {source} -> {target}"


def test_compose_load_profiles_target_the_balancer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert option(services["loadgen"], "--target") == "http://balancer:8000"
    assert services["k6"]["environment"]["TARGET"] == "http://balancer:8000"
    assert volume_of(services["k6"], "/scripts/auth-test.js") == ("./k6", "auth-test.js")
    assert services["k6"]["command"][-1] == "/scripts/auth-test.js"


# ---- stack.yml ---------------------------------------------------------------------------


def test_stack_service_deploy_policy(stack: dict[str, Any]) -> None:
    service = stack["services"]["service"]
    deploy = service["deploy"]
    assert default(deploy["replicas"]) == "3"
    assert deploy["endpoint_mode"] == "dnsrr", "the balancer uses tasks.service, not a VIP"
    assert deploy["update_config"]["order"] == "start-first"
    assert deploy["update_config"]["failure_action"] == "rollback"
    assert deploy["restart_policy"]["condition"] in ("any", "on-failure")
    assert deploy["resources"]["limits"]["cpus"]
    assert deploy["resources"]["limits"]["memory"]
    assert "/health/live" in healthcheck_test(service)
    assert "ports" not in service, "published only by the routing-mesh override"


def test_stack_service_gets_its_key_and_database_url_as_secrets(stack: dict[str, Any]) -> None:
    service = stack["services"]["service"]
    env = service["environment"]
    assert env["AUTH_JWT_PRIVATE_KEY_FILE"] == secret_path(service, "jwt_private_key")
    assert env["DATABASE_URL_FILE"] == secret_path(service, "database_url")
    assert "DATABASE_URL" not in env
    assert str(env["AUTH_TRUSTED_PROXIES"]) == "1"
    for entry in service["secrets"]:
        assert entry["mode"] == 0o400
    for name, secret in stack["secrets"].items():
        assert secret.get("external") is True, f"secret {name} must be created by the operator"


def test_stack_balancer_reaches_tasks_directly(stack: dict[str, Any]) -> None:
    balancer = stack["services"]["balancer"]
    assert option(balancer, "--backend-dns") == "tasks.service:8000"
    assert balancer["environment"]["BALANCER_ADMIN_TOKEN_FILE"] == secret_path(
        balancer, "balancer_admin_token"
    )
    ports = {port["target"]: port for port in balancer["ports"]}
    assert default(ports[8000]["published"]) == "8000"
    assert default(ports[8404]["published"]) == "8404"
    # Host mode: the routing mesh needs IPVS, which not every kernel has.
    assert {port["mode"] for port in balancer["ports"]} == {"host"}
    assert balancer["deploy"]["update_config"]["order"] == "start-first"
    assert "tcp://127.0.0.1:8000" in healthcheck_test(balancer)


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_stack_stateful_services(stack: dict[str, Any], name: str) -> None:
    service = stack["services"][name]
    deploy = service["deploy"]
    assert deploy["replicas"] == 1
    assert deploy["endpoint_mode"] == "dnsrr", "pooled connections must not cross the VIP"
    assert deploy["update_config"]["order"] == "stop-first", "never two servers on one volume"
    assert any(c.startswith("node.labels.") for c in deploy["placement"]["constraints"])
    assert service["volumes"], "needs a volume"
    healthcheck_test(service)
    assert "ports" not in service


def test_stack_postgres_password_is_a_secret(stack: dict[str, Any]) -> None:
    postgres = stack["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == secret_path(
        postgres, "postgres_password"
    )


def test_stack_prometheus_uses_the_swarm_config_and_token(stack: dict[str, Any]) -> None:
    prometheus = stack["services"]["prometheus"]
    configs = {
        entry["target"]: stack["configs"][entry["source"]]["file"]
        for entry in prometheus["configs"]
    }
    assert configs["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.swarm.yml"
    assert configs["/etc/prometheus/alerts.yml"] == "./prometheus/alerts.yml"
    swarm = load_yaml("prometheus/prometheus.swarm.yml")
    scrape = {job["job_name"]: job for job in swarm["scrape_configs"]}
    assert scrape["balancer"]["authorization"]["credentials_file"] == secret_path(
        prometheus, "balancer_admin_token"
    )


def test_stack_configs_exist(stack: dict[str, Any]) -> None:
    for name, config in stack["configs"].items():
        assert (DOCKER / config["file"]).is_file(), name
        assert "${CONFIG_VERSION" in config["name"], "configs are immutable: version their names"


def test_stack_network_is_attachable_overlay(stack: dict[str, Any]) -> None:
    network = stack["networks"]["authscale"]
    assert network["driver"] == "overlay"
    assert network["attachable"] is True
    (subnet,) = network["ipam"]["config"]
    # The service trusts X-Forwarded-For from the stack's own network only.
    env = stack["services"]["service"]["environment"]
    assert env["AUTH_TRUSTED_PROXY_ADDRS"] == subnet["subnet"]


def test_mesh_override_publishes_the_service_and_trusts_no_proxy() -> None:
    override = load_yaml("stack.mesh.yml")["services"]["service"]
    assert override["ports"][0]["target"] == 8000
    assert override["ports"][0]["mode"] == "ingress"
    assert override["deploy"]["endpoint_mode"] == "vip", "the mesh balances over the VIP"
    assert str(override["environment"]["AUTH_TRUSTED_PROXIES"]) == "0"


def test_compose_and_stack_configure_the_programs_alike(
    compose: dict[str, Any], stack: dict[str, Any]
) -> None:
    """The two deployments differ in how settings arrive, not in what they are."""
    how_they_arrive = {
        "DATABASE_URL",
        "DATABASE_URL_FILE",
        "REDIS_URL",
        "REDIS_URL_FILE",
        "AUTH_JWT_PRIVATE_KEY_FILE",
    }
    for name in ("service", "balancer"):
        one_host = compose["services"][name]["environment"]
        swarm = dict(stack["services"][name]["environment"])
        swarm.pop("AUTH_INSTANCE_ID", None)  # Swarm's task template; Compose uses the hostname
        keys = (set(one_host) | set(swarm)) - how_they_arrive
        assert set(one_host) - how_they_arrive == set(swarm) - how_they_arrive, name
        for key in keys:
            values = {str(one_host[key]), str(swarm[key])}
            # Compose defaults in ${VAR:-x} form are fine as long as the default matches.
            defaults = {default(value) for value in values}
            if key.endswith("_FILE"):
                continue  # a path in a volume or in /run/secrets
            assert len(defaults) == 1, (name, key, values)
    for name in ("service", "balancer"):
        assert (
            command_args(compose["services"][name])[0] == command_args(stack["services"][name])[0]
        )


# ---- Prometheus --------------------------------------------------------------------------


def scrape_jobs(name: str) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in load_yaml(f"prometheus/{name}")["scrape_configs"]}


@pytest.mark.parametrize(
    ("config", "service_name"),
    [("prometheus.yml", "service"), ("prometheus.swarm.yml", "tasks.service")],
)
def test_prometheus_scrapes_every_replica_and_the_balancer(config: str, service_name: str) -> None:
    jobs = scrape_jobs(config)
    (service_sd,) = jobs["service"]["dns_sd_configs"]
    assert service_sd["names"] == [service_name]
    # The metrics listener (AUTH_METRICS_LISTEN); the public port answers /metrics 404.
    assert (service_sd["type"], service_sd["port"]) == ("A", 9100)
    assert jobs["service"].get("metrics_path", "/metrics") == "/metrics"
    balancer = jobs["balancer"]
    assert balancer["dns_sd_configs"][0]["port"] == 8404
    assert balancer["authorization"]["type"] == "Bearer"
    assert load_yaml(f"prometheus/{config}")["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_prometheus_configs_differ_only_where_swarm_differs() -> None:
    def normalised(name: str) -> str:
        text = (DOCKER / "prometheus" / name).read_text()
        config = yaml.safe_load(text)
        config["global"]["external_labels"] = {}
        for job in config["scrape_configs"]:
            job.pop("authorization", None)
            for sd in job.get("dns_sd_configs", []):
                sd["names"] = [n.removeprefix("tasks.") for n in sd["names"]]
        return json.dumps(config, sort_keys=True)

    assert normalised("prometheus.yml") == normalised("prometheus.swarm.yml")


def test_compose_mounts_prometheus_files_where_the_config_expects_them(
    compose: dict[str, Any],
) -> None:
    prometheus = compose["services"]["prometheus"]
    assert volume_of(prometheus, "/etc/prometheus/prometheus.yml") == (
        "./prometheus/prometheus.yml",
        ".",
    )
    assert volume_of(prometheus, "/etc/prometheus/alerts.yml") == ("./prometheus/alerts.yml", ".")


def test_alert_rules_are_complete(alerts: dict[str, Any]) -> None:
    names = []
    for group in alerts["groups"]:
        for rule in group["rules"]:
            names.append(rule["alert"])
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert rule["annotations"]["description"], rule["alert"]
    assert len(names) == len(set(names))
    text = " ".join(expr for _, expr in alert_expressions(alerts))
    # The issue's four: backend down, error rate, p95 latency, bcrypt saturation.
    for metric in (
        "authscale_balancer_backend_up",
        "authscale_http_requests_total",
        "authscale_http_request_duration_seconds_bucket",
        "authscale_bcrypt_in_flight",
    ):
        assert metric in text, metric
    assert "histogram_quantile(0.95" in text


# ---- Grafana -----------------------------------------------------------------------------


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def test_grafana_datasource_and_dashboard_provider_agree(
    compose: dict[str, Any], stack: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    (datasource,) = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    for panel in all_panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]

    (provider,) = load_yaml("grafana/provisioning/dashboards/authscale.yml")["providers"]
    folder = provider["options"]["path"]
    grafana = compose["services"]["grafana"]
    assert volume_of(grafana, f"{folder}/authscale.json") == (
        "./grafana/dashboards",
        "authscale.json",
    )
    assert volume_of(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml") == (
        "./grafana/provisioning",
        "datasources/prometheus.yml",
    )
    swarm_targets = {entry["target"] for entry in stack["services"]["grafana"]["configs"]}
    assert f"{folder}/authscale.json" in swarm_targets


def test_dashboard_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    panels = all_panels(dashboard)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            refs = [target["refId"] for target in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


def test_dashboard_shows_what_the_issue_asks_for(dashboard: dict[str, Any]) -> None:
    queries = list(dashboard_expressions(dashboard))
    text = "\n".join(f"{title}: {expr}" for title, expr in queries)
    for needle in (
        "rate(authscale_http_requests_total",  # req/s
        "histogram_quantile(0.99",  # latency percentiles
        'status=~"5.."',  # error rate
        "by (route)",  # ... per route
        "by (backend, url)",  # ... per backend
        "authscale_balancer_backend_up",  # backend health
        "authscale_bcrypt_in_flight",  # bcrypt in flight
        "authscale_logins_total",  # login results
    ):
        assert needle in text, needle
    used = set().union(*(metric_names(expr) for _, expr in queries))
    assert {name for name in used if not name.startswith("authscale_")} == {"up"}


# ---- k6 ----------------------------------------------------------------------------------


def test_k6_script_is_the_original_scenario() -> None:
    script = (DOCKER / "k6" / "auth-test.js").read_text()
    assert "__ENV.TARGET" in script
    assert "__ENV.VUS || '200'" in script
    assert "__ENV.DURATION || '10s'" in script
    steps = [script.index(f"'/auth/{step}'") for step in ("signup", "login", "refresh", "logout")]
    assert steps == sorted(steps), "signup, login, refresh, logout in that order"
    for status in ("201", "200", "204"):
        assert f"r.status === {status}" in script
    assert "thresholds" in script
    assert "iterationInTest" in script, "one new user per iteration"
