"""Why a request failed, in a few words a reader can act on, and whether it was ever sent.

A run whose requests all fail says "100 % failed" and nothing else unless someone names the
causes; k6 logs each request error. Here each failed request is counted under its cause
(`connection refused`, `HTTP 503`, …) and the summary and the JSON list the counts.

A request whose connection was never made sent no bytes: it must not count in data_sent.
"""

from __future__ import annotations

import errno

import aiohttp

#: OS errors by the words k6 (and Go's net package) use for them.
_OS_ERRORS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by peer",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "broken pipe",
    errno.ETIMEDOUT: "connect timeout",
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network is unreachable",
    errno.EADDRNOTAVAIL: "cannot assign requested address",
    errno.EMFILE: "too many open files",
}


def transport_cause(exc: BaseException) -> str:
    """The cause of a request that got no HTTP answer."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "no such host"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _os_cause(exc.os_error, "cannot connect")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection (EOF)"
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one
        return "request timeout"
    if isinstance(exc, OSError):
        return _os_cause(exc, type(exc).__name__)
    return type(exc).__name__


def _os_cause(exc: OSError, fallback: str) -> str:
    if exc.errno in _OS_ERRORS:
        return _OS_ERRORS[exc.errno]
    return exc.strerror.lower() if exc.strerror else fallback


def never_sent(exc: BaseException) -> bool:
    """True when the request's connection was never made, so none of it went out."""
    return isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)


def status_cause(status: int) -> str | None:
    """The cause of an HTTP answer that counts as failed (k6: outside 200–399), else None."""
    return None if 200 <= status < 400 else f"HTTP {status}"
