"""The backend registry: each backend's state and counters, and the set the proxy picks from.

Admin API and DNS discovery change the set through the same methods (:meth:`BackendSet.add`,
:meth:`BackendSet.remove` …), which keep :attr:`BackendSet.available` — the list selection
runs over — up to date. Nothing here does I/O; listeners registered with
:meth:`BackendSet.subscribe` (health checker, connection pool) act on the changes.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from balancer.errors import AdminError
from balancer.health import CheckResult, HealthState
from balancer.selection import Selector

logger = logging.getLogger("balancer.backends")

# Request duration buckets (seconds) for the per-backend histogram.
DURATION_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class AdminState(StrEnum):
    """What the operator decided for a backend (admin API: enable, drain, disable). The
    values are the API's words, so the JSON and the logs show them unchanged."""

    ENABLED = "enabled"  # takes new requests while healthy
    DRAINING = "draining"  # finishes its requests and takes no new ones
    DISABLED = "disabled"  # as draining, and not health-checked either


class BackendState(StrEnum):
    """What a backend reports (admin API, metrics, status page): its admin state, or, when
    enabled, its health."""

    UP = "up"
    DOWN = "down"
    DRAINING = "draining"
    DISABLED = "disabled"


ENABLED: Final = AdminState.ENABLED
DRAINING: Final = AdminState.DRAINING
DISABLED: Final = AdminState.DISABLED


def parse_backend_url(url: str) -> tuple[str, int]:
    """``http://host:port`` → ``(host, port)``; raises ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"backend URL must look like http://host:port, got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"backend URL must not have a path or query: {url!r}")
    return parts.hostname, parts.port or 80


class Backend:
    """One upstream server: registry state (id, URL, weight, admin state), health and
    counters. ``active`` counts requests holding one of its ``maxconn`` slots: selection
    weighs it, and a drain is over when it is 0. Its connections and queue are the pool's
    (:class:`balancer.upstream.BackendPool`)."""

    __slots__ = (
        "active",
        "admin_state",
        "duration_counts",
        "duration_sum",
        "ejected_until",
        "failures",
        "health",
        "host",
        "id",
        "last_check",
        "port",
        "removing",
        "statuses",
        "streak",
        "total",
        "url",
        "weight",
    )

    def __init__(self, backend_id: str, url: str, *, weight: int, health: HealthState) -> None:
        self.id = backend_id
        self.url = url
        self.host, self.port = parse_backend_url(url)
        self.weight = weight
        self.health = health
        self.admin_state: AdminState = ENABLED
        self.removing = False
        self.active = 0
        self.total = 0
        self.failures = 0
        self.streak = 0
        self.statuses = [0, 0, 0, 0, 0, 0]
        self.duration_counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.last_check: CheckResult | None = None
        self.ejected_until = 0.0

    def record(self, status: int, elapsed: float) -> None:
        """Count one completed response (status class and duration histogram)."""
        self.statuses[status // 100] += 1
        self.duration_sum += elapsed
        self.duration_counts[bisect_left(DURATION_BUCKETS, elapsed)] += 1

    @property
    def state(self) -> BackendState:
        if self.admin_state is not ENABLED:
            return BackendState(self.admin_state)
        return BackendState.UP if self.health.up else BackendState.DOWN

    @property
    def available(self) -> bool:
        return self.admin_state is ENABLED and self.health.up

    @property
    def is_idle(self) -> bool:
        # A request queues for a slot only while every slot is held, and a freed slot goes
        # to the oldest queued request first: no slot held means no queue either.
        return self.active == 0

    def __repr__(self) -> str:
        return f"<Backend {self.id} {self.url} {self.state} active={self.active}>"


Listener = Callable[[str, Backend], None]


class BackendSet:
    """All backends by id, plus the list of those that may take new requests."""

    def __init__(self, selector: Selector, *, rise: int, fall: int) -> None:
        self.selector = selector
        self.rise = rise
        self.fall = fall
        self.backends: dict[str, Backend] = {}
        self.available: list[Backend] = []
        self._listeners: list[Listener] = []
        self._next_id = 1
        # Without active checks nothing could bring a backend up, so new ones start UP.
        self.active_checks = True

    def subscribe(self, listener: Listener) -> None:
        """``listener(event, backend)`` is called for added/removed/changed/idle."""
        self._listeners.append(listener)

    def _emit(self, event: str, backend: Backend) -> None:
        for listener in self._listeners:
            listener(event, backend)

    def refresh(self) -> None:
        # Weight 0 keeps a backend configured but out of rotation, as in HAProxy.
        self.available = [b for b in self.backends.values() if b.available and b.weight > 0]

    def pick(self, exclude: tuple[Backend, ...] = ()) -> Backend | None:
        available = self.available
        if not available:
            return None
        return self.selector.pick(available, exclude)

    def find_url(self, url: str) -> Backend | None:
        for backend in self.backends.values():
            if backend.url == url and not backend.removing:
                return backend
        return None

    def add(self, url: str, *, weight: int = 1, up: bool = True) -> Backend:
        """Add a backend. ``up=False`` starts it DOWN, one good check away from UP."""
        url = url.rstrip("/")
        if not 0 <= weight <= 256:
            raise AdminError(400, "invalid_weight", "weight must be between 0 and 256")
        try:
            parse_backend_url(url)
        except ValueError as exc:
            raise AdminError(400, "invalid_url", str(exc)) from exc
        if self.find_url(url) is not None:
            raise AdminError(409, "backend_exists", f"{url} is already a backend")
        up = up or not self.active_checks
        health = HealthState(
            rise=self.rise, fall=self.fall, up=up, pending_successes=0 if up else self.rise - 1
        )
        backend = Backend(f"b{self._next_id}", url, weight=weight, health=health)
        self._next_id += 1
        self.backends[backend.id] = backend
        self.refresh()
        logger.info(
            "backend %s added: %s (%s)",
            backend.id,
            url,
            backend.state,
            extra={"fields": {"event": "backend_added", "backend": backend.id, "url": url}},
        )
        self._emit("added", backend)
        return backend

    def get(self, backend_id: str) -> Backend:
        backend = self.backends.get(backend_id)
        if backend is None:
            raise AdminError(404, "backend_not_found", f"no backend {backend_id!r}")
        return backend

    def set_admin_state(self, backend_id: str, state: AdminState) -> Backend:
        """Enable, drain (no new requests) or disable (also no checks) a backend."""
        backend = self.get(backend_id)
        if backend.removing and state is ENABLED:
            raise AdminError(409, "backend_removing", f"{backend_id} is being removed")
        if backend.admin_state != state:
            previous = backend.state
            backend.admin_state = state
            self.refresh()
            logger.info(
                "backend %s: %s -> %s (admin)",
                backend.id,
                previous,
                backend.state,
                extra={"fields": _change(backend, previous, "admin")},
            )
            self._emit("changed", backend)
        self.check_idle(backend)
        return backend

    def set_weight(self, backend_id: str, weight: int) -> Backend:
        """Change a backend's weight at runtime (0 takes it out of rotation)."""
        if not 0 <= weight <= 256:
            raise AdminError(400, "invalid_weight", "weight must be between 0 and 256")
        backend = self.get(backend_id)
        if backend.weight != weight:
            logger.info(
                "backend %s weight %d -> %d",
                backend.id,
                backend.weight,
                weight,
                extra={
                    "fields": {"event": "backend_weight", "backend": backend.id, "weight": weight}
                },
            )
            backend.weight = weight
            self.refresh()
            self._emit("changed", backend)
        return backend

    def remove(self, backend_id: str) -> Backend:
        """Drain the backend, then remove it once its in-flight requests are done."""
        backend = self.get(backend_id)
        backend.removing = True
        if backend.admin_state is ENABLED:
            backend.admin_state = DRAINING
            self.refresh()
            self._emit("changed", backend)
        self.check_idle(backend)
        return backend

    def check_idle(self, backend: Backend) -> None:
        """Called when a backend may have become idle; finishes a pending removal."""
        if not backend.is_idle or backend.admin_state is ENABLED:
            return
        self._emit("idle", backend)
        if backend.removing and self.backends.get(backend.id) is backend:
            del self.backends[backend.id]
            self.refresh()
            logger.info(
                "backend %s removed: %s",
                backend.id,
                backend.url,
                extra={"fields": {"event": "backend_removed", "backend": backend.id}},
            )
            self._emit("removed", backend)

    def health_transition(self, backend: Backend, change: str | None, reason: str) -> None:
        """Apply the result of a :class:`HealthState` method; log and publish a change."""
        if change is None:
            return
        previous = "down" if change == "up" else "up"
        if backend.admin_state is ENABLED:
            self.refresh()
        level = logging.INFO if change == "up" else logging.WARNING
        logger.log(
            level,
            "backend %s (%s) is %s: %s",
            backend.id,
            backend.url,
            change.upper(),
            reason,
            extra={"fields": _change(backend, previous, reason, to=change)},
        )
        self._emit("changed", backend)

    def __repr__(self) -> str:
        return f"<BackendSet {len(self.available)}/{len(self.backends)} available>"


def _change(backend: Backend, previous: str, reason: str, to: str = "") -> dict[str, Any]:
    return {
        "event": "backend_state",
        "backend": backend.id,
        "url": backend.url,
        "from": previous,
        "to": to or backend.state,
        "reason": reason,
    }
