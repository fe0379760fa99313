"""Active health checks: one task per backend GETs the check path and feeds the result to
the backend's :class:`~balancer.health.HealthState` through the backend set.

A check is an HTTP GET on a fresh connection, healthy when it answers 2xx within the check
timeout; checks run every ``interval`` seconds with jitter, so many backends do not align.
Without active checks, :func:`restore_ejected` ends passive ejections after their time.
"""

from __future__ import annotations

import asyncio
import random
import time

from balancer.backends import AdminState, Backend, BackendSet
from balancer.health import CheckResult


async def check_http(host: str, port: int, path: str, limit: float) -> CheckResult:
    """One active check: GET ``path`` on a fresh connection; 2xx within ``limit`` s is healthy."""
    started = time.perf_counter()
    at = time.time()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(limit):
            reader, writer = await asyncio.open_connection(host, port)
            host_header = f"{host}:{port}".encode()
            writer.write(
                b"GET "
                + path.encode()
                + b" HTTP/1.1\r\nhost: "
                + host_header
                + b"\r\nuser-agent: authscale-balancer-check\r\nconnection: close\r\n\r\n"
            )
            line = await reader.readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return CheckResult(False, None, time.perf_counter() - started, "invalid response", at)
        status = int(parts[1])
        ok = 200 <= status < 300
        error = None if ok else f"status {status}"
        return CheckResult(ok, status, time.perf_counter() - started, error, at)
    except TimeoutError:
        return CheckResult(False, None, time.perf_counter() - started, "timeout", at)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return CheckResult(False, None, time.perf_counter() - started, reason, at)
    finally:
        if writer is not None:
            writer.close()


def next_delay(interval: float, jitter: float, rng: random.Random) -> float:
    """``interval`` spread by ±``jitter`` (a fraction), so checks of many backends do not align."""
    if jitter <= 0:
        return interval
    return interval * (1.0 + rng.uniform(-jitter, jitter))


class HealthMonitor:
    """Runs one active-check task per backend and applies the results to the backend set."""

    def __init__(
        self,
        backends: BackendSet,
        *,
        path: str,
        interval: float,
        timeout: float,
        jitter: float,
        rng: random.Random | None = None,
    ) -> None:
        self.backends = backends
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.jitter = jitter
        self.rng = rng or random.Random()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        backends.subscribe(self._on_event)

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def start(self) -> None:
        for backend in list(self.backends.backends.values()):
            self._start(backend)

    def _start(self, backend: Backend) -> None:
        if self.enabled and backend.id not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._run(backend))
            self._tasks[backend.id] = task

    def _on_event(self, event: str, backend: Backend) -> None:
        if event == "added":
            self._start(backend)
        elif event == "removed":
            task = self._tasks.pop(backend.id, None)
            if task is not None:
                task.cancel()

    async def _run(self, backend: Backend) -> None:
        # The first check runs at once (spread a little), so added backends join quickly.
        delay = self.rng.uniform(0, min(0.05, self.interval))
        while True:
            await asyncio.sleep(delay)
            delay = next_delay(self.interval, self.jitter, self.rng)
            if backend.admin_state is AdminState.DISABLED:
                continue
            result = await check_http(backend.host, backend.port, self.path, self.timeout)
            self.apply(backend, result)

    def apply(self, backend: Backend, result: CheckResult) -> None:
        """Record one check result on ``backend`` and publish a state change."""
        backend.last_check = result
        change = backend.health.record(result.ok)
        if change == "up":
            backend.streak = 0
        reason = "check passed" if result.ok else f"check failed: {result.error}"
        self.backends.health_transition(backend, change, reason)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def restore_ejected(backends: BackendSet, now: float) -> None:
    """Without active checks, ejected backends come back when their ejection time is over."""
    for backend in list(backends.backends.values()):
        if not backend.health.up and backend.ejected_until and now >= backend.ejected_until:
            backend.ejected_until = 0.0
            backends.health_transition(backend, backend.health.restore(), "ejection time over")
