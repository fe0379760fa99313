"""Service logs: plain text for people, one JSON object per line for machines.

Loggers: ``authscale.service`` (startup, errors), ``authscale.access`` (one line per request,
only when the access log is on) and ``authscale.auth`` (login ok / failed / throttled,
refresh token reuse). No password, token or hash is ever logged. A JSON line looks like::

    {"time": "2026-01-01T12:00:00.123Z", "level": "info", "logger": "authscale.access",
     "instance": "svc-1", "event": "request", "request_id": "…", "method": "POST",
     "route": "/auth/login", "status": 200, "duration_ms": 3.21}
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from service.errors import ServiceError

ACCESS = logging.getLogger("authscale.access")
AUTH = logging.getLogger("authscale.auth")
SERVICE = logging.getLogger("authscale.service")


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, instance: str) -> None:
        super().__init__()
        self._instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "instance": self._instance,
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode("utf-8")


class PlainFormatter(logging.Formatter):
    def __init__(self, instance: str) -> None:
        super().__init__("%(asctime)s %(levelname)s [" + instance + "] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if fields:
            record.msg = " ".join(f"{key}={value}" for key, value in fields.items())
            record.args = None
        return super().format(record)


def _not_reported_elsewhere(record: logging.LogRecord) -> bool:
    """Drops Sanic's traceback of a startup failure of ours: the program says it in one line
    (``cannot start: …``), and a traceback there reads as a crash, not as a refusal."""
    failure = record.exc_info[1] if record.exc_info else None
    return not (record.name.startswith("sanic") and isinstance(failure, ServiceError))


def setup_logging(*, log_format: str, instance: str) -> None:
    """Send the ``authscale`` and ``sanic`` loggers to stderr in ``log_format`` (idempotent).

    Sanic's own messages go through the same handler, so with ``json`` every line the
    service writes is one JSON object.
    """
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(instance) if log_format == "json" else PlainFormatter(instance)
    )
    handler.setFormatter(formatter)
    handler.addFilter(_not_reported_elsewhere)
    for name in ("authscale", "sanic"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def auth_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Record an authentication event (never pass secrets in ``fields``)."""
    if AUTH.isEnabledFor(level):
        AUTH.log(level, event, extra={"fields": {"event": event, **fields}})


def access_line(
    *, request_id: str, method: str, route: str, status: int, duration_ms: float
) -> None:
    ACCESS.info(
        "request",
        extra={
            "fields": {
                "event": "request",
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration_ms, 3),
            }
        },
    )
