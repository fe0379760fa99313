"""Where the service's stores are, said without secrets, and how often waiting for them is
said (pure: no I/O).

The startup line names the Postgres and Redis an instance uses, so an operator who started
several can tell which database each one writes to; a URL may carry a password, so only
host, port and database are shown. While a store does not answer at start the service
retries every half second but says so at most once a second.
"""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qs, urlsplit

from service.errors import Unavailable

#: Seconds between attempts to reach a store that does not answer at start.
RETRY_DELAY = 0.5


def postgres_location(url: str) -> str:
    """`host:port/db` of a Postgres URL (libpq's defaults where it names none)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    port = _port(parts) or query.get("port", ["5432"])[0]
    database = parts.path.lstrip("/") or query.get("dbname", [parts.username or "postgres"])[0]
    return f"{_bracketed(host)}:{port}/{database}"


def redis_location(url: str) -> str:
    """`host:port/db` of a Redis URL, or `unix:/path/db` for a socket."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        return f"unix:{parts.path}/{query.get('db', ['0'])[0]}"
    database = parts.path.lstrip("/") or query.get("db", ["0"])[0]
    port = _port(parts) or "6379"
    return f"{_bracketed(parts.hostname or 'localhost')}:{port}/{database}"


def _port(parts: SplitResult) -> str | None:
    try:
        port = parts.port
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


class StartupWait:
    """Waiting at start for one store (``Redis``, ``PostgreSQL``) at ``where``: after each
    failed attempt, :class:`Unavailable` once ``patience`` seconds are spent, else the
    warning to log (at most one a second)."""

    def __init__(self, store: str, where: str, *, patience: float, began: float) -> None:
        self._store = store
        self._where = where
        self._patience = patience
        self._began = began
        self._notice = Notice()

    def failed(self, now: float, exc: Exception) -> str | None:
        """The attempt that ended at ``now`` failed with ``exc``: raises :class:`Unavailable`
        when the patience is spent; otherwise the line to log, None when one was said less
        than a second ago."""
        waited = now - self._began
        if waited >= self._patience:
            raise Unavailable(
                f"{self._store} did not answer at {self._where} within {self._patience:g} s: {exc}"
            ) from exc
        if not self._notice.due(now):
            return None
        return f"waiting for {self._store} at {self._where} ({waited:.0f} s): {exc}"
