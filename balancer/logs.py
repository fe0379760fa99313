"""Logging setup: plain text for terminals (default) or one JSON object per line.

Records may carry structured data in ``extra={"fields": {...}}``; the JSON formatter puts
those keys at the top level next to ``time``, ``level``, ``logger`` and ``message``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


access_logger = logging.getLogger("balancer.access")


def log_request(
    *,
    request_id: bytes,
    client: bytes,
    backend: str | None,
    method: bytes,
    path: bytes,
    status: int,
    duration: float,
) -> None:
    """One access-log line: time, request id, client, backend, method, path, status, duration."""
    fields = {
        "event": "request",
        "request_id": request_id.decode("latin-1"),
        "client": client.decode("latin-1"),
        "backend": backend,
        "method": method.decode("latin-1"),
        "path": path.decode("latin-1"),
        "status": status,
        "duration_ms": round(duration * 1000, 3),
    }
    access_logger.info(
        "%s %s %s -> %s %d %.1fms",
        fields["request_id"],
        fields["method"],
        fields["path"],
        backend,
        status,
        duration * 1000,
        extra={"fields": fields},
    )


def configure_logging(log_format: str, level: str) -> None:
    """Install one stderr handler on the ``balancer`` logger."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("balancer")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
