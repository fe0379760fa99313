"""The balancer's command line: every option of :class:`~balancer.config.BalancerConfig`
as a flag (``--max-body-size`` for ``max_body_size``). :func:`balancer.config.load_config`
parses with it and merges the result over the TOML file and the environment.
"""

from __future__ import annotations

import argparse

from authscale.argparsing import ArgumentParser


def build_parser(prog: str = "python -m balancer") -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=prog,
        description="authscale's asyncio round-robin reverse proxy with health checks, "
        "safe retries, drain and an admin API.",
    )
    add = parser.add_argument
    add("--config", metavar="FILE", help="TOML file with option names as keys")
    add("--listen", metavar="HOST:PORT", help="proxy address (127.0.0.1:8000)")
    add(
        "--backend",
        dest="backends",
        action="append",
        metavar="URL[,weight=N]",
        help="a backend http://host:port; repeat for more",
    )
    add(
        "--backend-dns",
        dest="backend_dns",
        action="append",
        metavar="NAME:PORT",
        help="discover backends by re-resolving NAME (e.g. tasks.service:8000)",
    )
    add("--dns-interval", type=float, metavar="S", help="DNS re-resolution interval (5)")
    add("--admin", metavar="HOST:PORT", help="admin API address (127.0.0.1:8404), 'off' to disable")
    add(
        "--admin-host",
        dest="admin_hosts",
        action="append",
        metavar="NAME",
        help="a host name the admin API answers to besides its address and localhost; repeat",
    )
    add(
        "--admin-insecure",
        action="store_const",
        const=True,
        help="no admin token (loopback only); without a token one is generated and printed",
    )
    add(
        "--algorithm",
        help="round-robin (default), weighted-round-robin, least-connections, "
        "power-of-two (aliases rr, wrr, leastconn, p2c)",
    )
    add("--health-path", help="active check path (/health/ready)")
    add("--health-interval", type=float, metavar="S", help="seconds between checks (2); 0 = off")
    add("--health-timeout", type=float, metavar="S", help="check timeout (1)")
    add("--health-jitter", type=float, metavar="F", help="interval spread fraction (0.1)")
    add("--rise", type=int, help="good checks to bring a backend up (2)")
    add("--fall", type=int, help="failed checks to take a backend down (3)")
    add(
        "--eject-after",
        type=int,
        metavar="N",
        help="consecutive connect failures/5xx that eject a backend (5)",
    )
    add(
        "--eject-time",
        type=float,
        metavar="S",
        help="how long an ejected backend stays out when active checks are off (10)",
    )
    add("--connect-timeout", type=float, metavar="S", help="upstream connect timeout (5)")
    add(
        "--server-timeout",
        type=float,
        metavar="S",
        help="backend silence, before or during a response (30) → 504",
    )
    add(
        "--header-timeout",
        type=float,
        metavar="S",
        help="client must send a complete request head within this (10) → 408",
    )
    add(
        "--body-timeout",
        type=float,
        metavar="S",
        help="longest silence while a client sends a request body (30) → 408",
    )
    add(
        "--request-timeout",
        type=float,
        metavar="S",
        help="the whole request, head and body, must arrive within this (60) → 408",
    )
    add(
        "--request-buffer",
        type=int,
        metavar="BYTES",
        help="bodies up to this size are read in full before a backend is chosen, so a slow "
        "upload holds no backend slot; larger ones are streamed (64 KiB, 0 = stream all)",
    )
    add(
        "--max-client-connections",
        type=int,
        metavar="N",
        help="open connections per client address; more are refused with 503 (1024, 0 = no cap)",
    )
    add("--keepalive-timeout", type=float, metavar="S", help="idle client connections (75)")
    add(
        "--upstream-idle-timeout",
        type=float,
        metavar="S",
        help="idle pooled backend connections (30)",
    )
    add("--shutdown-timeout", type=float, metavar="S", help="grace for in-flight requests (10)")
    add("--maxconn", type=int, help="concurrent requests per backend (512)")
    add("--maxqueue", type=int, help="queued requests per backend (1024)")
    add("--queue-timeout", type=float, metavar="S", help="max wait in the queue (5) → 503")
    add("--max-header-size", type=int, metavar="BYTES", help="request head limit (16384) → 431")
    add(
        "--max-body-size",
        type=int,
        metavar="BYTES",
        help="request body limit (10 MiB, 0 = none) → 413",
    )
    add("--retries", type=int, help="extra backends tried after connect failures (2)")
    add(
        "--retry-budget-percent",
        type=float,
        metavar="P",
        help="concurrent retries as a percentage of requests in flight (20)",
    )
    add("--retry-budget-min", type=int, metavar="N", help="retries always allowed (3)")
    add("--forwarded-proto", help="X-Forwarded-Proto value (http)")
    add("--log-format", choices=("text", "json"), help="text (default) or json")
    add("--log-level", help="debug, info (default), warning, error")
    add(
        "--access-log",
        action="store_const",
        const=True,
        help="log one line per request (off by default: it costs CPU)",
    )
    return parser
