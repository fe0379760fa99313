"""Where the service's stores are, said without secrets, and how often waiting for them is
said (pure: no I/O).

The startup line names the Postgres and Redis an instance uses, so an operator who started
several can tell which database each one writes to; a URL may carry a password, so only
host, port and database are shown. While a store does not answer at start the service
retries every half second but says so at most once a second.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def postgres_location(url: str) -> str:
    """`host:port/db` of a Postgres URL (libpq's defaults where it names none)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    port = _port(url) or query.get("port", ["5432"])[0]
    database = parts.path.lstrip("/") or query.get("dbname", [parts.username or "postgres"])[0]
    return f"{_bracketed(host)}:{port}/{database}"


def redis_location(url: str) -> str:
    """`host:port/db` of a Redis URL, or `unix:/path/db` for a socket."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        return f"unix:{parts.path}/{query.get('db', ['0'])[0]}"
    database = parts.path.lstrip("/") or query.get("db", ["0"])[0]
    port = _port(url) or "6379"
    return f"{_bracketed(parts.hostname or 'localhost')}:{port}/{database}"


def _port(url: str) -> str | None:
    try:
        port = urlsplit(url).port
    except ValueError:  # not a number: shown as absent rather than failing a log line
        return None
    return None if port is None else str(port)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Notice:
    """Says whether a repeated message is due: at most once per `interval` seconds."""

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last: float | None = None

    def due(self, now: float) -> bool:
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        return True
