"""Service configuration: one frozen dataclass, validated on construction, built from the
environment (read by :mod:`service.environment`) and argv (:mod:`service.flags`) here only.

Environment variables (flags override the ones they name):

    DATABASE_URL, REDIS_URL                     backing stores
    AUTH_JWT_ALG                                EdDSA (default) or HS256
    AUTH_JWT_PRIVATE_KEY_FILE                   PEM Ed25519 private key (EdDSA)
    AUTH_JWT_PREVIOUS_PUBLIC_KEY_FILE           PEM public key still accepted during rotation
    AUTH_JWT_SECRET                             HMAC secret, at least 32 bytes (HS256)
    AUTH_JWT_ISSUER, AUTH_JWT_AUDIENCE          ``iss`` / ``aud`` of access tokens
    AUTH_JWT_LEEWAY                             clock skew tolerated, seconds (10, at most 30)
    AUTH_ACCESS_TTL, AUTH_REFRESH_TTL           seconds (900, 1209600)
    AUTH_BCRYPT_ROUNDS                          bcrypt cost (12)
    AUTH_BCRYPT_THREADS                         hashing threads (usable CPUs)
    AUTH_TRUSTED_PROXIES                        proxy hops trusted for X-Forwarded-For (0)
    AUTH_TRUSTED_PROXY_ADDRS                    CIDRs of those proxies; X-Forwarded-For is
                                                believed only from a peer in them
    AUTH_RATE_LIMIT_EXEMPT                      CIDRs that skip the per-address limits
    AUTH_TOKEN_PEPPER_FILE                      server pepper for refresh tokens, sessions and
                                                device tokens (required outside --dev)
    AUTH_SESSION_MAX_AGE                        absolute session lifetime, seconds (2592000)
    AUTH_MAX_SESSIONS_PER_USER                  live sessions per user; oldest revoked (20)
    AUTH_METRICS_LISTEN                         host:port of the /metrics listener (none)
    AUTH_DB_POOL_MIN, AUTH_DB_POOL_MAX          asyncpg pool size (2, 10)
    AUTH_IO_TIMEOUT                             Postgres/Redis command timeout, seconds (2)
    AUTH_STARTUP_TIMEOUT                        wait this long for Postgres/Redis at start (15)
    AUTH_SHUTDOWN_DELAY                         on SIGTERM, answer /health/ready with 503 and
                                                keep serving this long before stopping, so a
                                                balancer takes the instance out first (0)
    AUTH_LOGIN_MAX_FAILURES                     failed logins per account per window (10)
    AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS         failed logins per client address per window (100)
    AUTH_LOGIN_WINDOW                           throttling window, seconds (300)
    AUTH_LOGIN_MAX_FAILURES_PER_DEVICE          failed logins per device token per window (10)
    AUTH_SIGNUP_MAX_PER_ADDRESS                 signups per client address per window (20)
    AUTH_SIGNUP_WINDOW                          signup window, seconds (3600)
    AUTH_LOG_FORMAT                             text (default) or json
    AUTH_ACCESS_LOG                             1/0: one line per request (default: on a terminal)
    AUTH_INSTANCE_ID                            name in logs (default host:port)
    AUTH_REDIS_PREFIX                           prefix of every Redis key ("authscale:")
    AUTH_DEV                                    1: as ``--dev``
    AUTH_SERVER_TIMING                          on (default) / off: the Server-Timing header
                                                and per-request phase recording
    OTEL_EXPORTER_OTLP_ENDPOINT                 OTLP/HTTP base URL: spans go there when the
                                                ``otel`` extra is installed (none)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authscale import otel
from service.addresses import parse_networks
from service.environment import settings_from_env
from service.errors import ConfigError
from service.flags import LOG_FORMATS, build_parser, settings_from_args
from service.keys import (
    MIN_PEPPER_BYTES,
    generate_pepper,
    generate_private_key_pem,
    load_private_key,
    load_public_key,
)

JWT_ALGORITHMS = ("EdDSA", "HS256")
MAX_LEEWAY = 30
MIN_SECRET_BYTES = 32


def usable_cpus() -> int:
    """CPUs this process may run on (respects pinning), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """Everything an instance needs to know; validated on construction."""

    host: str = "127.0.0.1"
    port: int = 8001
    workers: int = 1
    dev: bool = False
    instance_id: str = ""
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "authscale:"
    jwt_algorithm: str = "EdDSA"
    jwt_private_key_pem: bytes | None = field(default=None, repr=False)
    jwt_previous_public_key_pem: bytes | None = field(default=None, repr=False)
    jwt_secret: bytes | None = field(default=None, repr=False)
    jwt_issuer: str = "authscale"
    jwt_audience: str = "authscale"
    jwt_leeway: int = 10
    ephemeral_key: bool = False
    access_ttl: int = 900
    refresh_ttl: int = 1_209_600
    bcrypt_rounds: int = 12
    bcrypt_threads: int = field(default_factory=usable_cpus)
    trusted_proxies: int = 0
    #: CIDRs; X-Forwarded-For is believed only from a peer in one of them.
    trusted_proxy_addrs: tuple[str, ...] = ()
    #: CIDRs of known load generators: they skip the per-address limits.
    rate_limit_exempt: tuple[str, ...] = ()
    token_pepper: bytes | None = field(default=None, repr=False)
    ephemeral_pepper: bool = False
    session_max_age: int = 30 * 86_400
    max_sessions_per_user: int = 20
    #: ``host:port`` of the listener serving /metrics and health details ("" = none).
    metrics_listen: str = ""
    db_pool_min: int = 2
    db_pool_max: int = 10
    io_timeout: float = 2.0
    ready_timeout: float = 1.0
    startup_timeout: float = 15.0
    shutdown_delay: float = 0.0
    login_max_failures: int = 10
    login_max_failures_per_address: int = 100
    login_window: int = 300
    login_max_failures_per_device: int = 10
    signup_max_per_address: int = 20
    signup_window: int = 3600
    max_body_bytes: int = 16 * 1024
    log_format: str = "text"
    access_log: bool = False
    #: Server-Timing on every response and the phase histogram; off only to measure its cost.
    server_timing: bool = True
    #: OTLP/HTTP base URL spans go to (``OTEL_EXPORTER_OTLP_ENDPOINT``); None = no tracing.
    otlp_endpoint: str | None = None

    def __post_init__(self) -> None:
        self._check(0 <= self.port <= 65535, f"port must be 0..65535, got {self.port}")
        self._check(self.workers >= 1, "workers must be at least 1")
        self._check(
            self.jwt_algorithm in JWT_ALGORITHMS,
            f"AUTH_JWT_ALG must be one of {', '.join(JWT_ALGORITHMS)}, got {self.jwt_algorithm!r}",
        )
        if self.jwt_algorithm == "EdDSA":
            self._check(
                self.jwt_private_key_pem is not None,
                "no JWT signing key: set AUTH_JWT_PRIVATE_KEY_FILE to a PEM Ed25519 private key "
                "(create one with `python -m service keygen PATH`), or run with --dev for an "
                "ephemeral key",
            )
            load_private_key(self.jwt_private_key_pem or b"")
            if self.jwt_previous_public_key_pem is not None:
                load_public_key(self.jwt_previous_public_key_pem)
        else:
            self._check(
                self.jwt_secret is not None and len(self.jwt_secret) >= MIN_SECRET_BYTES,
                f"HS256 needs AUTH_JWT_SECRET of at least {MIN_SECRET_BYTES} bytes",
            )
        self._check(bool(self.jwt_issuer), "AUTH_JWT_ISSUER must not be empty")
        self._check(bool(self.jwt_audience), "AUTH_JWT_AUDIENCE must not be empty")
        self._check(
            0 <= self.jwt_leeway <= MAX_LEEWAY, f"AUTH_JWT_LEEWAY must be 0..{MAX_LEEWAY} s"
        )
        self._check(self.access_ttl > 0, "AUTH_ACCESS_TTL must be positive")
        self._check(
            self.refresh_ttl >= self.access_ttl,
            "AUTH_REFRESH_TTL must be at least AUTH_ACCESS_TTL",
        )
        self._check(4 <= self.bcrypt_rounds <= 31, "AUTH_BCRYPT_ROUNDS must be 4..31")
        self._check(self.bcrypt_threads >= 1, "AUTH_BCRYPT_THREADS must be at least 1")
        self._check(self.trusted_proxies >= 0, "AUTH_TRUSTED_PROXIES must not be negative")
        self._check(
            self.trusted_proxies == 0 or bool(self.trusted_proxy_addrs),
            "AUTH_TRUSTED_PROXIES needs AUTH_TRUSTED_PROXY_ADDRS: the CIDRs of the proxies "
            "whose X-Forwarded-For is believed (e.g. 127.0.0.1/32 for a local balancer)",
        )
        parse_networks(self.trusted_proxy_addrs, name="AUTH_TRUSTED_PROXY_ADDRS")
        self._check(
            self.trusted_proxies > 0 or not self.trusted_proxy_addrs,
            "AUTH_TRUSTED_PROXY_ADDRS is set but AUTH_TRUSTED_PROXIES is 0, so X-Forwarded-For "
            "would be ignored: set AUTH_TRUSTED_PROXIES to the number of proxy hops in front "
            "of the service (1 for one balancer), or unset AUTH_TRUSTED_PROXY_ADDRS",
        )
        parse_networks(self.rate_limit_exempt, name="AUTH_RATE_LIMIT_EXEMPT")
        self._check(
            self.token_pepper is not None and len(self.token_pepper) >= MIN_PEPPER_BYTES,
            f"no token pepper: set AUTH_TOKEN_PEPPER_FILE to a file of at least "
            f"{MIN_PEPPER_BYTES} secret bytes (create one with `python -m service pepper "
            "PATH`), or run with --dev for an ephemeral one",
        )
        self._check(self.session_max_age >= 1, "AUTH_SESSION_MAX_AGE must be at least 1 s")
        self._check(
            self.max_sessions_per_user >= 1, "AUTH_MAX_SESSIONS_PER_USER must be at least 1"
        )
        if self.metrics_listen:
            metrics_address(self.metrics_listen)
        otlp_problem = otel.endpoint_problem(self.otlp_endpoint)
        self._check(otlp_problem is None, otlp_problem or "")
        self._check(
            0 <= self.db_pool_min <= self.db_pool_max and self.db_pool_max >= 1,
            "need 0 <= AUTH_DB_POOL_MIN <= AUTH_DB_POOL_MAX and AUTH_DB_POOL_MAX >= 1",
        )
        self._check(self.io_timeout > 0, "AUTH_IO_TIMEOUT must be positive")
        self._check(self.ready_timeout > 0, "ready_timeout must be positive")
        self._check(self.startup_timeout >= 0, "AUTH_STARTUP_TIMEOUT must not be negative")
        self._check(self.shutdown_delay >= 0, "AUTH_SHUTDOWN_DELAY must not be negative")
        self._check(self.login_max_failures >= 1, "AUTH_LOGIN_MAX_FAILURES must be at least 1")
        self._check(
            self.login_max_failures_per_address >= 1,
            "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS must be at least 1",
        )
        self._check(self.login_window >= 1, "AUTH_LOGIN_WINDOW must be at least 1 s")
        self._check(
            self.login_max_failures_per_device >= 1,
            "AUTH_LOGIN_MAX_FAILURES_PER_DEVICE must be at least 1",
        )
        self._check(
            self.signup_max_per_address >= 1, "AUTH_SIGNUP_MAX_PER_ADDRESS must be at least 1"
        )
        self._check(self.signup_window >= 1, "AUTH_SIGNUP_WINDOW must be at least 1 s")
        self._check(self.max_body_bytes >= 1, "max_body_bytes must be positive")
        self._check(
            self.log_format in LOG_FORMATS,
            f"AUTH_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}",
        )
        self._check(
            self.database_url.startswith(("postgres://", "postgresql://")),
            "DATABASE_URL must be a postgresql:// URL",
        )
        self._check(
            self.redis_url.startswith(("redis://", "rediss://", "unix://")),
            "REDIS_URL must be a redis:// URL",
        )

    @staticmethod
    def _check(condition: bool, message: str) -> None:
        if not condition:
            raise ConfigError(message)

    @property
    def name(self) -> str:
        """How this instance names itself in logs."""
        return self.instance_id or f"{self.host}:{self.port}"


def metrics_address(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; :class:`ConfigError` otherwise."""
    host, colon, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"AUTH_METRICS_LISTEN must be host:port, got {text!r}")
    return host, int(port)


def build_config(settings: Mapping[str, Any], *, interactive: bool = False) -> ServiceConfig:
    """Validate ``settings`` into a config; in dev mode, make up the missing signing key.

    ``interactive`` (stderr is a terminal) turns the access log on unless it is set.
    """
    values = dict(settings)
    if "access_log" not in values:
        values["access_log"] = interactive or values.get("log_format") == "json"
    needs_key = values.get("jwt_algorithm", "EdDSA") == "EdDSA"
    if values.get("dev") and needs_key and values.get("jwt_private_key_pem") is None:
        values["jwt_private_key_pem"] = generate_private_key_pem()
        values["ephemeral_key"] = True
    if values.get("dev") and values.get("token_pepper") is None:
        values["token_pepper"] = generate_pepper()
        values["ephemeral_pepper"] = True
    return ServiceConfig(**values)


def config_from_environment(env: Mapping[str, str] | None = None) -> ServiceConfig:
    """The configuration the environment describes (``os.environ`` by default)."""
    source = os.environ if env is None else env
    return build_config(settings_from_env(source), interactive=sys.stderr.isatty())


def config_from_argv(
    argv: Sequence[str], env: Mapping[str, str] | None = None, *, prog: str = "python -m service"
) -> tuple[argparse.Namespace, ServiceConfig | None]:
    """Parse the command line; flags override the environment.

    Returns the parsed arguments and, unless a subcommand was given, the configuration.
    """
    args = build_parser(prog).parse_args(list(argv))
    if args.command is not None:
        return args, None
    source = os.environ if env is None else env
    settings = {**settings_from_env(source), **settings_from_args(args)}
    return args, build_config(settings, interactive=sys.stderr.isatty())
