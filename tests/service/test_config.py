"""Configuration: parsing, validation and the clear refusals, without sockets."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from service.config import ServiceConfig, build_config, config_from_argv, config_from_environment
from service.errors import ConfigError
from service.keys import generate_pepper, generate_private_key_pem

PEM = generate_private_key_pem()
PEPPER = generate_pepper()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(PEM)
    (tmp_path / "pepper").write_bytes(PEPPER + b"\n")
    return path


def secret_files(key_path: Path) -> dict[str, str]:
    """The signing key and the token pepper next to it (both required outside --dev)."""
    return {
        "AUTH_JWT_PRIVATE_KEY_FILE": str(key_path),
        "AUTH_TOKEN_PEPPER_FILE": str(key_path.parent / "pepper"),
    }


def test_defaults_follow_the_design(key_path: Path) -> None:
    config = config_from_environment({**secret_files(key_path)})
    assert config.jwt_algorithm == "EdDSA"
    assert config.access_ttl == 900
    assert config.refresh_ttl == 1_209_600
    assert config.bcrypt_rounds == 12
    assert config.trusted_proxies == 0
    assert config.max_body_bytes == 16 * 1024
    assert config.jwt_leeway <= 30
    assert config.jwt_private_key_pem == PEM


def test_no_key_material_refuses_with_a_clear_message() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_environment({})
    message = str(caught.value)
    assert "AUTH_JWT_PRIVATE_KEY_FILE" in message
    assert "keygen" in message
    assert "--dev" in message


def test_dev_mode_makes_an_ephemeral_key() -> None:
    config = build_config({"dev": True})
    assert config.ephemeral_key
    assert config.jwt_private_key_pem is not None
    assert b"PRIVATE KEY" in config.jwt_private_key_pem


def test_dev_mode_keeps_a_configured_key(key_path: Path) -> None:
    config = config_from_environment({"AUTH_DEV": "1", "AUTH_JWT_PRIVATE_KEY_FILE": str(key_path)})
    assert not config.ephemeral_key
    assert config.jwt_private_key_pem == PEM


def test_environment_values_are_parsed(key_path: Path) -> None:
    config = config_from_environment(
        {
            **secret_files(key_path),
            "DATABASE_URL": "postgresql://u@db:5432/x",
            "REDIS_URL": "redis://cache:6379/1",
            "AUTH_ACCESS_TTL": "60",
            "AUTH_REFRESH_TTL": "120",
            "AUTH_BCRYPT_ROUNDS": "10",
            "AUTH_BCRYPT_THREADS": "3",
            "AUTH_TRUSTED_PROXIES": "1",
            "AUTH_TRUSTED_PROXY_ADDRS": "127.0.0.1",
            "AUTH_DB_POOL_MIN": "1",
            "AUTH_DB_POOL_MAX": "4",
            "AUTH_IO_TIMEOUT": "0.25",
            "AUTH_LOG_FORMAT": "json",
            "AUTH_ACCESS_LOG": "off",
            "AUTH_INSTANCE_ID": "svc-7",
        }
    )
    assert (config.database_url, config.redis_url) == (
        "postgresql://u@db:5432/x",
        "redis://cache:6379/1",
    )
    assert (config.access_ttl, config.refresh_ttl) == (60, 120)
    assert (config.bcrypt_rounds, config.bcrypt_threads) == (10, 3)
    assert config.trusted_proxies == 1
    assert (config.db_pool_min, config.db_pool_max) == (1, 4)
    assert config.io_timeout == 0.25
    assert config.log_format == "json"
    assert config.access_log is False
    assert config.name == "svc-7"


@pytest.mark.parametrize(
    ("env", "mentions"),
    [
        ({"AUTH_BCRYPT_ROUNDS": "twelve"}, "AUTH_BCRYPT_ROUNDS"),
        ({"AUTH_BCRYPT_ROUNDS": "3"}, "AUTH_BCRYPT_ROUNDS"),
        ({"AUTH_BCRYPT_ROUNDS": "32"}, "AUTH_BCRYPT_ROUNDS"),
        ({"AUTH_JWT_LEEWAY": "31"}, "AUTH_JWT_LEEWAY"),
        ({"AUTH_JWT_ALG": "none"}, "AUTH_JWT_ALG"),
        ({"AUTH_JWT_ALG": "RS256"}, "AUTH_JWT_ALG"),
        ({"AUTH_JWT_ALG": "HS256", "AUTH_JWT_SECRET": "too short"}, "AUTH_JWT_SECRET"),
        ({"AUTH_JWT_ALG": "HS256"}, "AUTH_JWT_SECRET"),
        ({"AUTH_ACCESS_TTL": "0"}, "AUTH_ACCESS_TTL"),
        ({"AUTH_ACCESS_TTL": "100", "AUTH_REFRESH_TTL": "50"}, "AUTH_REFRESH_TTL"),
        ({"AUTH_TRUSTED_PROXIES": "-1"}, "AUTH_TRUSTED_PROXIES"),
        ({"AUTH_DB_POOL_MIN": "5", "AUTH_DB_POOL_MAX": "2"}, "AUTH_DB_POOL"),
        ({"AUTH_LOG_FORMAT": "xml"}, "AUTH_LOG_FORMAT"),
        ({"AUTH_ACCESS_LOG": "maybe"}, "AUTH_ACCESS_LOG"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"AUTH_IO_TIMEOUT": "0"}, "AUTH_IO_TIMEOUT"),
        ({"AUTH_JWT_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}, "/nonexistent/key.pem"),
    ],
)
def test_invalid_settings_are_refused_by_name(
    key_path: Path, env: dict[str, str], mentions: str
) -> None:
    with pytest.raises(ConfigError, match=mentions):
        config_from_environment({**secret_files(key_path), **env})


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="PEM"):
        config_from_environment({"AUTH_JWT_PRIVATE_KEY_FILE": str(bogus)})


def test_hs256_with_a_long_secret_is_accepted(key_path: Path) -> None:
    config = config_from_environment(
        {
            "AUTH_JWT_ALG": "HS256",
            "AUTH_JWT_SECRET": "s" * 32,
            "AUTH_TOKEN_PEPPER_FILE": secret_files(key_path)["AUTH_TOKEN_PEPPER_FILE"],
        }
    )
    assert config.jwt_secret == b"s" * 32


def test_flags_override_the_environment(key_path: Path) -> None:
    env = {
        **secret_files(key_path),
        "AUTH_BCRYPT_ROUNDS": "10",
        "REDIS_URL": "redis://from-env:6379/0",
    }
    args, config = config_from_argv(
        ["--port", "9001", "--workers", "2", "--bcrypt-rounds", "5", "--host", "0.0.0.0"], env
    )
    assert args.command is None
    assert config is not None
    assert (config.host, config.port, config.workers) == ("0.0.0.0", 9001, 2)
    assert config.bcrypt_rounds == 5
    assert config.redis_url == "redis://from-env:6379/0"


def test_keygen_is_a_subcommand_that_needs_no_key(tmp_path: Path) -> None:
    args, config = config_from_argv(["keygen", str(tmp_path / "k.pem")], {})
    assert args.command == "keygen"
    assert config is None


def test_access_log_defaults_on_for_json_or_a_terminal(key_path: Path) -> None:
    base = {"jwt_private_key_pem": PEM, "token_pepper": PEPPER}
    assert build_config({**base, "log_format": "json"}).access_log is True
    assert build_config(base, interactive=True).access_log is True
    assert build_config(base, interactive=False).access_log is False
    assert build_config({**base, "log_format": "json", "access_log": False}).access_log is False


def test_secrets_stay_out_of_repr_and_the_config_pickles() -> None:
    config = ServiceConfig(jwt_private_key_pem=PEM, token_pepper=PEPPER)
    assert "PRIVATE" not in repr(config)
    assert PEPPER.decode() not in repr(config)
    assert pickle.loads(pickle.dumps(config)) == config
    hs = ServiceConfig(
        jwt_algorithm="HS256", jwt_secret=b"a-very-secret-value-of-32-bytes!", token_pepper=PEPPER
    )
    assert "a-very-secret" not in repr(hs)


def test_no_pepper_refuses_with_a_clear_message(key_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_environment({"AUTH_JWT_PRIVATE_KEY_FILE": str(key_path)})
    message = str(caught.value)
    assert "AUTH_TOKEN_PEPPER_FILE" in message
    assert "--dev" in message


def test_a_short_pepper_is_refused(key_path: Path) -> None:
    (key_path.parent / "pepper").write_bytes(b"short\n")
    with pytest.raises(ConfigError, match="AUTH_TOKEN_PEPPER_FILE"):
        config_from_environment(secret_files(key_path))


def test_dev_mode_makes_an_ephemeral_pepper_and_keeps_a_configured_one(key_path: Path) -> None:
    made = build_config({"dev": True})
    assert made.ephemeral_pepper
    assert made.token_pepper is not None
    assert len(made.token_pepper) >= 32
    kept = config_from_environment({"AUTH_DEV": "1", **secret_files(key_path)})
    assert not kept.ephemeral_pepper
    assert kept.token_pepper == PEPPER  # the trailing newline is not part of it


def test_hardening_settings_are_parsed(key_path: Path) -> None:
    config = config_from_environment(
        {
            **secret_files(key_path),
            "AUTH_TRUSTED_PROXIES": "1",
            "AUTH_TRUSTED_PROXY_ADDRS": "127.0.0.1/32, 10.0.0.0/8",
            "AUTH_RATE_LIMIT_EXEMPT": "127.0.0.0/8,::1",
            "AUTH_SESSION_MAX_AGE": "3600",
            "AUTH_MAX_SESSIONS_PER_USER": "3",
            "AUTH_METRICS_LISTEN": "127.0.0.1:9464",
            "AUTH_SIGNUP_MAX_PER_ADDRESS": "5",
            "AUTH_SIGNUP_WINDOW": "60",
            "AUTH_LOGIN_MAX_FAILURES_PER_DEVICE": "4",
        }
    )
    assert config.trusted_proxy_addrs == ("127.0.0.1/32", "10.0.0.0/8")
    assert config.rate_limit_exempt == ("127.0.0.0/8", "::1")
    assert (config.session_max_age, config.max_sessions_per_user) == (3600, 3)
    assert config.metrics_listen == "127.0.0.1:9464"
    assert (config.signup_max_per_address, config.signup_window) == (5, 60)
    assert config.login_max_failures_per_device == 4
    _, flagged = config_from_argv(["--metrics-listen", "[::1]:9000"], secret_files(key_path))
    assert flagged is not None
    assert flagged.metrics_listen == "[::1]:9000"


def test_design_defaults_of_the_hardening_settings(key_path: Path) -> None:
    config = config_from_environment(secret_files(key_path))
    assert config.session_max_age == 30 * 86_400
    assert config.max_sessions_per_user >= 1
    assert config.metrics_listen == ""
    assert config.trusted_proxy_addrs == config.rate_limit_exempt == ()


@pytest.mark.parametrize(
    ("env", "mentions"),
    [
        ({"AUTH_TRUSTED_PROXIES": "1"}, "AUTH_TRUSTED_PROXY_ADDRS"),
        ({"AUTH_TRUSTED_PROXY_ADDRS": "not-a-network"}, "AUTH_TRUSTED_PROXY_ADDRS"),
        # Proxies named but no hop trusted: X-Forwarded-For would be silently ignored.
        ({"AUTH_TRUSTED_PROXY_ADDRS": "127.0.0.1/32"}, "AUTH_TRUSTED_PROXIES is 0"),
        (
            {"AUTH_TRUSTED_PROXY_ADDRS": "10.0.0.0/8", "AUTH_TRUSTED_PROXIES": "0"},
            "AUTH_TRUSTED_PROXIES is 0",
        ),
        ({"AUTH_RATE_LIMIT_EXEMPT": "10.0.0.0/33"}, "AUTH_RATE_LIMIT_EXEMPT"),
        ({"AUTH_SESSION_MAX_AGE": "0"}, "AUTH_SESSION_MAX_AGE"),
        ({"AUTH_MAX_SESSIONS_PER_USER": "0"}, "AUTH_MAX_SESSIONS_PER_USER"),
        ({"AUTH_METRICS_LISTEN": "9464"}, "AUTH_METRICS_LISTEN"),
        ({"AUTH_METRICS_LISTEN": "host:port"}, "AUTH_METRICS_LISTEN"),
        ({"AUTH_SIGNUP_MAX_PER_ADDRESS": "0"}, "AUTH_SIGNUP_MAX_PER_ADDRESS"),
    ],
)
def test_invalid_hardening_settings_are_refused_by_name(
    key_path: Path, env: dict[str, str], mentions: str
) -> None:
    with pytest.raises(ConfigError, match=mentions):
        config_from_environment({**secret_files(key_path), **env})
