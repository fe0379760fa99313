"""Configuration from argv, environment and a TOML file; validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancer.config import Address, BackendSpec, BalancerConfig, load_config
from balancer.errors import ConfigError


def test_defaults_follow_haproxy() -> None:
    config = load_config([], {})
    assert config.listen == Address("127.0.0.1", 8000)
    assert config.admin == Address("127.0.0.1", 8404)
    assert (config.health_path, config.health_interval, config.rise, config.fall) == (
        "/health/ready",
        2.0,
        2,
        3,
    )
    assert config.algorithm == "round-robin"
    assert config.upstream_idle_timeout < 900
    assert not config.access_log
    assert config.log_format == "text"


def test_argv_wins_over_env_over_file(tmp_path: Path) -> None:
    file = tmp_path / "balancer.toml"
    file.write_text(
        'listen = "0.0.0.0:7000"\nbackends = ["http://a:1", "http://b:2,weight=3"]\n'
        'algorithm = "p2c"\nrise = 4\n'
    )
    env = {"BALANCER_CONFIG": str(file), "BALANCER_RISE": "5", "BALANCER_ADMIN_TOKEN": "s3cr3t"}
    config = load_config(["--rise", "6", "--admin", "0.0.0.0:9404"], env)
    assert config.listen == Address("0.0.0.0", 7000)
    assert config.backends == (BackendSpec("http://a:1", 1), BackendSpec("http://b:2", 3))
    assert config.algorithm == "power-of-two"
    assert config.rise == 6
    assert config.admin_token == "s3cr3t"
    assert "s3cr3t" not in repr(config)


def test_env_backend_list_and_dns() -> None:
    env = {
        "BALANCER_BACKENDS": "http://a:1, http://b:2,weight=2 http://c:3",
        "BALANCER_BACKEND_DNS": "tasks.auth:8000",
        "BALANCER_ACCESS_LOG": "true",
    }
    config = load_config([], env)
    assert [b.url for b in config.backends] == ["http://a:1", "http://b:2", "http://c:3"]
    assert config.backends[1].weight == 2
    assert config.backend_dns == (Address("tasks.auth", 8000),)
    assert config.access_log


def test_repeated_backend_flags() -> None:
    config = load_config(["--backend", "http://h:1/", "--backend", "http://h:2"], {})
    assert [b.url for b in config.backends] == ["http://h:1", "http://h:2"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--admin", "0.0.0.0:8404"],
        ["--backend", "https://x:1"],
        ["--backend", "http://x:1/path"],
        ["--listen", "nohost"],
        ["--algorithm", "fastest"],
        ["--rise", "0"],
        ["--health-path", "health"],
        ["--health-jitter", "1.5"],
        ["--connect-timeout", "0"],
        ["--log-level", "loud"],
    ],
)
def test_invalid_settings_are_refused(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        load_config(argv, {})


def test_admin_elsewhere_with_token_is_allowed() -> None:
    config = load_config(["--admin", "0.0.0.0:8404"], {"BALANCER_ADMIN_TOKEN": "secret"})
    assert config.admin == Address("0.0.0.0", 8404)


def test_unknown_file_setting_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "b.toml"
    file.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_config(["--config", str(file)], {})


def test_dataclass_is_frozen() -> None:
    config = BalancerConfig()
    with pytest.raises(AttributeError):
        config.rise = 3  # type: ignore[misc]
