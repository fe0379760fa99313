#!/usr/bin/env python3
"""Container health probe, so the image needs no curl.

    authscale-healthcheck [URL] [--timeout SECONDS]

URL is ``http://HOST:PORT/PATH`` (healthy when the answer is 2xx) or ``tcp://HOST:PORT``
(healthy when a connection is accepted). The default is the service's liveness route on
its default port. Exit status 0 = healthy, 1 = unhealthy, as Docker's HEALTHCHECK expects.
Standard library only: it runs every few seconds and must start fast.
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/health/live"


def probe(url: str, timeout: float) -> tuple[bool, str]:
    """Return (healthy, one-line reason) for one probe of ``url``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "tcp":
        if not parts.hostname or parts.port is None:
            return False, f"tcp URL needs host and port: {url}"
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
                return True, f"connected to {parts.hostname}:{parts.port}"
        except OSError as exc:
            return False, f"cannot connect to {parts.hostname}:{parts.port}: {exc}"
    if parts.scheme != "http":
        return False, f"unsupported URL scheme {parts.scheme!r} (use http:// or tcp://)"
    # A proxy configured in the container's environment must not sit between the probe
    # and the process next to it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return False, f"GET {url} failed: {exc}"
    return 200 <= status < 300, f"GET {url} -> {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="authscale-healthcheck", description=__doc__.split("\n")[0]
    )
    parser.add_argument("url", nargs="?", default=DEFAULT_URL)
    parser.add_argument("--timeout", type=float, default=2.5, help="seconds (default 2.5)")
    args = parser.parse_args(argv)
    healthy, reason = probe(args.url, args.timeout)
    print(("healthy: " if healthy else "unhealthy: ") + reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
