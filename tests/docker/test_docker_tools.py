"""The deployment files as Docker's and Prometheus' own tools read them, where installed.

None of these needs a running engine: `docker stack config` and `docker compose config`
load, validate against the schema and interpolate on the client; promtool checks the
Prometheus configuration and the rules offline. Each check is skipped, with the reason,
when its tool is missing (`apt-get install docker-compose prometheus` provides the last two).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"


#: What compose.yml refuses to start without (no default passwords).
REQUIRED = {
    "POSTGRES_PASSWORD": "pg-test-password",
    "REDIS_PASSWORD": "redis-test-password",
    "GRAFANA_ADMIN_PASSWORD": "grafana-test-password",
}


def run(
    argv: list[str], cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environment, **(env or {})},
    )


def docker_works(*probe: str) -> bool:
    """Whether ``docker PROBE...`` runs (without an engine: client-side commands only)."""
    if shutil.which("docker") is None:
        return False
    return run(["docker", *probe]).returncode == 0


def stack_config(*files: str) -> dict[str, object]:
    if not docker_works("stack", "config", "--help"):
        pytest.skip("no docker CLI with `docker stack config` on this machine")
    argv = ["docker", "stack", "config"]
    for name in files:
        argv += ["-c", str(DOCKER / name)]
    result = run(argv)
    assert result.returncode == 0, result.stderr
    loaded = yaml.safe_load(result.stdout)
    assert isinstance(loaded, dict)
    return loaded


def test_docker_stack_config_accepts_the_stack() -> None:
    config = stack_config("stack.yml")
    service = config["services"]["service"]  # type: ignore[index]
    assert service["deploy"]["replicas"] == 3
    # Relative config files resolve next to the stack file, wherever deploy runs from.
    prometheus_config = config["configs"]["prometheus_config"]  # type: ignore[index]
    assert prometheus_config["file"] == str(DOCKER / "prometheus" / "prometheus.swarm.yml")
    assert prometheus_config["name"] == "authscale_prometheus_yml_1"


def test_docker_stack_config_merges_the_mesh_override() -> None:
    config = stack_config("stack.yml", "stack.mesh.yml")
    service = config["services"]["service"]  # type: ignore[index]
    assert [port["published"] for port in service["ports"]] == [8080]
    assert service["environment"]["AUTH_TRUSTED_PROXIES"] == "0"
    # The merge keeps everything else of the base file.
    assert service["deploy"]["update_config"]["order"] == "start-first"
    assert service["deploy"]["endpoint_mode"] == "vip"
    assert {entry["source"] for entry in service["secrets"]} == {
        "jwt_private_key",
        "database_url",
        "redis_url",
        "token_pepper",
    }


def compose_command() -> list[str]:
    # `docker compose --help` succeeds without the plugin (it prints docker's own help).
    if docker_works("compose", "version"):
        return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    pytest.skip("neither `docker compose` nor `docker-compose` is installed on this machine")


def test_docker_compose_config_accepts_the_compose_file() -> None:
    result = run([*compose_command(), "-f", str(DOCKER / "compose.yml"), "config"], env=REQUIRED)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["services"]["service"]["deploy"]["replicas"] == 3
    assert "--web.enable-lifecycle" not in config["services"]["prometheus"]["command"]
    assert "--backend-dns=service:8000" in config["services"]["balancer"]["command"]


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_docker_compose_refuses_to_start_without_a_password(missing: str) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    result = run([*compose_command(), "-f", str(DOCKER / "compose.yml"), "config"], env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed on this machine (Debian: `prometheus`)")
    return path


def test_promtool_checks_the_rules() -> None:
    result = run([promtool(), "check", "rules", str(DOCKER / "prometheus" / "alerts.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.swarm.yml"])
def test_promtool_checks_the_configuration(name: str, tmp_path: Path) -> None:
    tool = promtool()
    # The configuration names container paths; point them at local copies.
    config = yaml.safe_load((DOCKER / "prometheus" / name).read_text())
    token = tmp_path / "balancer_admin_token"
    token.write_text("test-token")
    shutil.copy(DOCKER / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    local = tmp_path / name
    local.write_text(yaml.safe_dump(config))
    result = run([tool, "check", "config", str(local)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_k6_script_parses() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed on this machine; cannot parse the k6 script")
    # --input-type=module parses it as the ES module k6 loads; the source goes on stdin.
    result = subprocess.run(
        [node, "--check", "--input-type=module"],
        input=(DOCKER / "k6" / "auth-test.js").read_text(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
