"""The service's command line: the flags that override settings of the environment, and the
subcommands (``keygen``, ``pepper``, ``revoke-devices``). :func:`service.config.config_from_argv`
parses with it and merges the result over the environment.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from authscale.argparsing import ArgumentParser

#: What ``--log-format`` offers; ``AUTH_LOG_FORMAT`` is checked against the same.
LOG_FORMATS = ("text", "json")


def build_parser(prog: str = "python -m service") -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=prog,
        description="authscale auth service: signup, login, refresh, logout on Postgres + Redis",
        epilog="Other settings come from the environment: see `service/config.py`.",
    )
    parser.add_argument("--host", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (8001)")
    parser.add_argument("--workers", type=int, help="worker processes (1)")
    parser.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="generate an ephemeral signing key and token pepper when none is configured "
        "(one instance only)",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (DATABASE_URL)")
    parser.add_argument("--redis-url", help="Redis URL (REDIS_URL)")
    parser.add_argument("--bcrypt-rounds", type=int, help="bcrypt cost (AUTH_BCRYPT_ROUNDS)")
    parser.add_argument("--instance-id", help="name in logs (AUTH_INSTANCE_ID)")
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve /metrics and health details here, not on the public port (AUTH_METRICS_LISTEN)",
    )
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="AUTH_LOG_FORMAT")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one log line per request (AUTH_ACCESS_LOG)",
    )
    parser.add_argument(
        "--server-timing",
        choices=("on", "off"),
        help="Server-Timing header and phase recording (AUTH_SERVER_TIMING, on)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    keygen = commands.add_parser("keygen", help="write a new Ed25519 private key (PEM) to PATH")
    keygen.add_argument("path", type=Path)
    pepper = commands.add_parser(
        "pepper", help="write a new token pepper (AUTH_TOKEN_PEPPER_FILE) to PATH"
    )
    pepper.add_argument("path", type=Path)
    revoke = commands.add_parser(
        "revoke-devices",
        help="revoke every device token of the account EMAIL (DATABASE_URL, REDIS_URL)",
    )
    revoke.add_argument("email", metavar="EMAIL")
    return parser


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration fields given on the command line."""
    names = (
        "host",
        "port",
        "workers",
        "dev",
        "database_url",
        "redis_url",
        "bcrypt_rounds",
        "instance_id",
        "metrics_listen",
        "log_format",
        "access_log",
    )
    found = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.server_timing is not None:
        found["server_timing"] = args.server_timing == "on"
    return found
