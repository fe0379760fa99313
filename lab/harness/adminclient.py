"""The lab's client of the balancer's admin API (blocking, loopback): list, drain, enable.

The topology polls it while the balancer starts and while faults strike; the rolling restart
drives it. Every failure is an :class:`AdminError` whose message names the call and the
answer (`GET /backends: HTTP 401 unauthorized: a valid bearer token is required`), or says
that the API did not answer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from lab.errors import LabError


class AdminError(LabError):
    """An admin API call was refused or not answered; the message says which and why."""


def refusal(status: int, body: bytes) -> str:
    """An error answer as a reader wants it: `HTTP 401 unauthorized: a valid bearer token is
    required` from the admin API's JSON error, else the start of the body as text."""
    try:
        error = json.loads(body)["error"]
        return f"HTTP {status} {error['code']}: {error['message']}"
    except (ValueError, TypeError, KeyError):
        text = body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {status}" + (f": {text}" if text else "")


class AdminClient:
    """The admin API calls the lab makes, each bounded by ``timeout`` seconds."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        if method != "GET":
            # The admin API takes changes only as JSON (a cross-site form cannot send it).
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AdminError(f"{method} {path}: {refusal(exc.code, exc.read())}") from exc
        except OSError as exc:
            raise AdminError(f"{method} {path}: the admin API did not answer: {exc}") from exc

    def backends(self) -> list[dict[str, Any]]:
        data = self._call("GET", "/backends")
        rows = data.get("backends", []) if isinstance(data, dict) else data
        return [row for row in rows if isinstance(row, dict)]

    def backend(self, backend_id: str) -> dict[str, Any]:
        for row in self.backends():
            if row.get("id") == backend_id:
                return row
        raise AdminError(f"backend {backend_id} disappeared from the balancer")

    def drain(self, backend_id: str) -> None:
        self._call("POST", f"/backends/{backend_id}/drain")

    def enable(self, backend_id: str) -> None:
        self._call("POST", f"/backends/{backend_id}/enable")
