"""Balancer configuration: one frozen dataclass, built from defaults, a TOML file, the
environment and the command line (later sources win). This is the only module that reads
the environment.

Environment: ``BALANCER_ADMIN_TOKEN`` (bearer token for the admin API), ``BALANCER_CONFIG``
(path of the TOML file), ``OTEL_EXPORTER_OTLP_ENDPOINT`` (OTLP/HTTP base URL: spans go there
when the ``otel`` extra is installed) and ``BALANCER_<OPTION>`` for any option, e.g.
``BALANCER_LISTEN``, ``BALANCER_BACKENDS`` (URLs separated by commas or spaces),
``BALANCER_BACKEND_DNS``, ``BALANCER_ALGORITHM``. The TOML file uses the option names with
underscores (``listen = "0.0.0.0:8000"``, ``backends = ["http://a:8001"]``,
``health_interval = 2.0``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from authscale import otel
from balancer.backends import parse_backend_url
from balancer.errors import ConfigError
from balancer.flags import build_parser
from balancer.selection import ALGORITHMS, ALIASES


class Address(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


DEFAULT_LISTEN = Address("127.0.0.1", 8000)
DEFAULT_ADMIN = Address("127.0.0.1", 8404)


class BackendSpec(NamedTuple):
    url: str
    weight: int = 1


def parse_address(text: str, what: str = "address") -> Address:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → :class:`Address`."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{what} must be HOST:PORT, got {text!r}")
    return Address(host, int(port))


def parse_backend(text: str) -> BackendSpec:
    """``URL`` or ``URL,weight=N``."""
    url, _, option = text.strip().partition(",")
    weight = 1
    if option:
        key, _, value = option.partition("=")
        if key.strip() != "weight" or not value.strip().isdigit():
            raise ConfigError(f"backend options must be ',weight=N', got {text!r}")
        weight = int(value)
    url = url.rstrip("/")
    try:
        parse_backend_url(url)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return BackendSpec(url, weight)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True, slots=True)
class BalancerConfig:
    """Every setting of the balancer; ``__post_init__`` refuses inconsistent values."""

    listen: Address = DEFAULT_LISTEN
    backends: tuple[BackendSpec, ...] = ()
    backend_dns: tuple[Address, ...] = ()
    dns_interval: float = 5.0
    admin: Address | None = DEFAULT_ADMIN
    admin_token: str | None = field(default=None, repr=False)
    #: Serve the admin API without a token (loopback only); else one is generated at start.
    admin_insecure: bool = False
    #: Host names (besides the bound address and ``localhost``) the admin API answers to.
    admin_hosts: tuple[str, ...] = ()
    algorithm: str = "round-robin"
    health_path: str = "/health/ready"
    health_interval: float = 2.0
    health_timeout: float = 1.0
    health_jitter: float = 0.1
    rise: int = 2
    fall: int = 3
    eject_after: int = 5
    eject_time: float = 10.0
    connect_timeout: float = 5.0
    server_timeout: float = 30.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 75.0
    upstream_idle_timeout: float = 30.0
    shutdown_timeout: float = 10.0
    maxconn: int = 512
    maxqueue: int = 1024
    queue_timeout: float = 5.0
    max_header_size: int = 16384
    max_body_size: int = 10 * 1024 * 1024
    request_buffer: int = 64 * 1024
    request_timeout: float = 60.0
    max_client_connections: int = 1024
    retries: int = 2
    retry_budget_percent: float = 20.0
    retry_budget_min: int = 3
    forwarded_proto: str = "http"
    log_format: str = "text"
    log_level: str = "info"
    access_log: bool = False
    #: OTLP/HTTP base URL spans go to (``OTEL_EXPORTER_OTLP_ENDPOINT``); None = no tracing.
    otlp_endpoint: str | None = None

    def __post_init__(self) -> None:
        algorithm = ALIASES.get(self.algorithm, self.algorithm)
        if algorithm not in ALGORITHMS:
            raise ConfigError(
                f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}"
            )
        object.__setattr__(self, "algorithm", algorithm)
        for broken, message in self._rules():
            if broken:
                raise ConfigError(message)

    def _rules(self) -> list[tuple[bool, str]]:
        """Every rule as (broken, message), in the order a broken one is reported."""
        admin_open = self.admin is not None and not is_loopback(self.admin.host)
        otlp_problem = otel.endpoint_problem(self.otlp_endpoint)
        return [
            # Off loopback the token must be one the operator chose (and can hand to
            # Prometheus); on loopback a missing one is generated at start unless
            # admin_insecure says not to.
            (
                admin_open and not self.admin_token,
                f"the admin API would listen on {self.admin} without authentication: set "
                "BALANCER_ADMIN_TOKEN, or bind it to loopback",
            ),
            (otlp_problem is not None, otlp_problem or ""),
            (
                not self.health_path.startswith("/"),
                f"health_path must start with '/', got {self.health_path!r}",
            ),
            *((getattr(self, n) <= 0, f"{n} must be > 0") for n in _POSITIVE),
            *((getattr(self, n) < 1, f"{n} must be >= 1") for n in _AT_LEAST_ONE),
            *((getattr(self, n) < 0, f"{n} must be >= 0") for n in _NON_NEGATIVE),
            (
                not 0 <= self.health_jitter < 1,
                "health_jitter must be a fraction in [0, 1)",
            ),
            (
                self.log_level.lower() not in ("debug", "info", "warning", "error", "critical"),
                f"log_level must be debug, info, warning or error: {self.log_level!r}",
            ),
            (
                self.log_format not in ("text", "json"),
                f"log_format must be text or json, got {self.log_format!r}",
            ),
            (
                self.forwarded_proto not in ("http", "https"),
                "forwarded_proto must be http or https",
            ),
        ]


_POSITIVE = (
    "health_timeout",
    "connect_timeout",
    "server_timeout",
    "header_timeout",
    "body_timeout",
    "request_timeout",
    "keepalive_timeout",
    "upstream_idle_timeout",
    "queue_timeout",
    "dns_interval",
)
_AT_LEAST_ONE = ("rise", "fall", "eject_after", "maxconn", "max_header_size")
_NON_NEGATIVE = (
    "health_interval",
    "eject_time",
    "shutdown_timeout",
    "maxqueue",
    "max_body_size",
    "retries",
    "retry_budget_min",
    "retry_budget_percent",
    "request_buffer",
    "max_client_connections",
)


def _convert(name: str, value: Any) -> Any:
    """Coerce a value from the TOML file, the environment or argv to the field's type."""
    if name == "listen":
        return parse_address(str(value), "listen")
    if name == "admin":
        if value in (None, "", "off", "none"):
            return None
        return parse_address(str(value), "admin")
    if name == "admin_hosts":
        items = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
        return tuple(str(item).strip().lower() for item in items if str(item).strip())
    if name == "backends":
        return tuple(parse_backend(item) for item in _list_items(value))
    if name == "backend_dns":
        return tuple(parse_address(item, "backend-dns") for item in _list_items(value))
    return _convert_by_default(name, value)


def _list_items(value: Any) -> list[str]:
    """The items of a list setting: a TOML array, or one string separated by whitespace or
    commas (a comma followed by ``weight`` joins a backend to its option instead)."""
    if isinstance(value, str):
        return [item for item in re.split(r"\s+|,(?!\s*weight)", value) if item]
    return [str(item) for item in value]


def _convert_by_default(name: str, value: Any) -> Any:
    """Coerce a scalar setting to the type of the field's default."""
    default = BalancerConfig.__dataclass_fields__[name].default
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    return None if value is None else str(value)


def load_config(
    argv: Sequence[str] | None,
    environ: Mapping[str, str] | None = None,
    *,
    prog: str = "python -m balancer",
) -> BalancerConfig:
    """Defaults < TOML file < environment < command line. ``environ`` defaults to the
    process environment; tests pass their own."""
    if environ is None:
        environ = os.environ
    args = build_parser(prog).parse_args(argv)
    # Not options: the token is a secret (never argv or TOML), the endpoint OTel's variable.
    explicit = ("admin_token", "otlp_endpoint")
    names = [f.name for f in fields(BalancerConfig) if f.name not in explicit]
    values: dict[str, Any] = {}
    config_file = args.config or environ.get("BALANCER_CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        for key, value in data.items():
            name = key.replace("-", "_")
            name = {"backend": "backends", "admin_host": "admin_hosts"}.get(name, name)
            if name not in names:
                raise ConfigError(f"unknown setting {key!r} in {config_file}")
            values[name] = _convert(name, value)
    for name in names:
        raw = environ.get(f"BALANCER_{name.upper()}")
        if raw is not None:
            values[name] = _convert(name, raw)
    for name in names:
        raw = getattr(args, name, None)
        if raw is not None:
            values[name] = _convert(name, raw)
    token = environ.get("BALANCER_ADMIN_TOKEN") or None
    endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
    return BalancerConfig(admin_token=token, otlp_endpoint=endpoint, **values)
