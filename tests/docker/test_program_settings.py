"""The settings the deployments give the service and the balancer are ones they accept.

Each container's command and environment, as Compose or Swarm would pass them (defaults of
``${VAR:-default}`` filled in, ``NAME_FILE`` secrets read as the entrypoint reads them),
go through the programs' own configuration loaders: a misspelt option or a value out of
range fails here instead of in a crash-looping container.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
service_config = pytest.importorskip("service.config")
balancer_config = pytest.importorskip("balancer.config")
service_keys = pytest.importorskip("service.keys")

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")
# A variable the operator must set (compose.yml's passwords): a test value.
REQUIRED = re.compile(r"\$\{(\w+):\?[^}]*\}")
# What the secrets and volumes hold in a deployment: same shape, test values.
FILE_CONTENTS = {
    "DATABASE_URL_FILE": "postgresql://authscale:secret@postgres:5432/authscale\n",
    "REDIS_URL_FILE": "redis://authscale:secret@redis:6379/0\n",
    "BALANCER_ADMIN_TOKEN_FILE": "an-admin-token\n",
}


def interpolate(value: str) -> str:
    value = DEFAULT.sub(lambda match: match.group(2), value)
    return REQUIRED.sub(lambda match: f"test-{match.group(1).lower()}", value)


def deployment_env(service: dict[str, Any], key_file: Path) -> tuple[list[str], dict[str, str]]:
    """(argv after the program name, environment) of one container."""
    env: dict[str, str] = {}
    for name, value in service["environment"].items():
        value = interpolate(str(value))
        if name in FILE_CONTENTS:
            # The entrypoint's NAME_FILE convention, with its trailing-newline strip.
            env[name.removesuffix("_FILE")] = FILE_CONTENTS[name].rstrip("\n")
        elif name == "AUTH_JWT_PRIVATE_KEY_FILE":
            env[name] = str(key_file)
        elif name == "AUTH_TOKEN_PEPPER_FILE":
            env[name] = str(key_file.with_name("token_pepper"))
        else:
            env[name] = value
    command = [interpolate(str(arg)) for arg in service["command"]]
    return command[1:], env


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "jwt_ed25519.pem"
    path.write_bytes(service_keys.generate_private_key_pem())
    path.with_name("token_pepper").write_bytes(service_keys.generate_pepper())
    return path


@pytest.mark.parametrize("file", ["compose.yml", "stack.yml"])
def test_the_service_accepts_its_deployment_settings(file: str, key_file: Path) -> None:
    spec = yaml.safe_load((DOCKER / file).read_text())["services"]["service"]
    argv, env = deployment_env(spec, key_file)
    args, config = service_config.config_from_argv(argv, env)
    assert args.command is None
    assert (config.host, config.port) == ("0.0.0.0", 8000)
    assert config.jwt_algorithm == "EdDSA"
    assert not config.ephemeral_key, "every replica must use the shared key"
    assert config.trusted_proxies == 1
    assert config.log_format == "json"
    assert config.bcrypt_rounds == 10
    assert config.bcrypt_threads == 1
    assert config.database_url.startswith("postgresql://authscale:")
    assert config.redis_url.startswith("redis://authscale:")
    assert config.redis_url.endswith("@redis:6379/0")
    assert config.token_pepper, "every replica must use the shared pepper"
    assert not config.ephemeral_pepper
    assert config.metrics_listen == "0.0.0.0:9100"
    assert config.trusted_proxy_addrs == ("10.231.0.0/16",)
    assert config.rate_limit_exempt == ()


@pytest.mark.parametrize(
    ("file", "dns_name"), [("compose.yml", "service"), ("stack.yml", "tasks.service")]
)
def test_the_balancer_accepts_its_deployment_settings(
    file: str, dns_name: str, key_file: Path
) -> None:
    spec = yaml.safe_load((DOCKER / file).read_text())["services"]["balancer"]
    argv, env = deployment_env(spec, key_file)
    config = balancer_config.load_config(argv, env)
    assert [(address.host, address.port) for address in config.backend_dns] == [(dns_name, 8000)]
    assert (config.listen.host, config.listen.port) == ("0.0.0.0", 8000)
    assert (config.admin.host, config.admin.port) == ("0.0.0.0", 8404)
    assert config.log_format == "json"
    # Pooled upstream connections must close well before IPVS forgets them (900 s).
    assert config.upstream_idle_timeout < 900


def test_the_balancer_refuses_an_open_admin_api_without_the_token(key_file: Path) -> None:
    """Why the deployments hand it a token: without one it would not start."""
    spec = yaml.safe_load((DOCKER / "compose.yml").read_text())["services"]["balancer"]
    argv, env = deployment_env(spec, key_file)
    del env["BALANCER_ADMIN_TOKEN"]
    with pytest.raises(balancer_config.ConfigError, match="BALANCER_ADMIN_TOKEN"):
        balancer_config.load_config(argv, env)


def test_the_load_generator_accepts_its_compose_command() -> None:
    loadgen_config = pytest.importorskip("loadgen.config")
    spec = yaml.safe_load((DOCKER / "compose.yml").read_text())["services"]["loadgen"]
    config = loadgen_config.config_from_args(spec["command"][1:], {})
    assert (config.target, config.vus, config.duration_s) == ("http://balancer:8000", 200, 10.0)
