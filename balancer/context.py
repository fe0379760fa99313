"""What every client connection and exchange shares: configuration, backends, pool,
request ids, the retry budget and the counters the metrics read.

:class:`ClientSide` is what an exchange needs of its client connection; the connection
(:mod:`balancer.proxy`) subclasses it, so the exchange's executor (:mod:`balancer.forward`)
never imports the Protocol class that creates it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from balancer import tracing
from balancer.backends import Backend, BackendSet
from balancer.exchange import REPLAY_LIMIT, RetryBudget
from balancer.pool import Pool
from balancer.rewrite import RequestIds

if TYPE_CHECKING:
    from balancer.config import BalancerConfig

# Why a client connection stopped reading (bits of ClientSide.paused).
PIPELINE_FULL: Final = 1
BODY_WAIT: Final = 2
UPSTREAM_FULL: Final = 4
STOPPED: Final = 8


class ClientSide(asyncio.Protocol):
    """The client connection as its exchanges see it: the fields they use and the methods
    they call, which :class:`balancer.proxy.ClientConnection` implements. A base class, not
    a typing Protocol, so that compiled (``balancer/_build.py``) the exchange reaches them
    directly rather than by name."""

    def __init__(self) -> None:
        self.client_ip = b""
        # Response bytes waiting for the next write (a head and its body go out together).
        self.out: list[bytes] = []
        self.paused = 0  # why reading is paused: PIPELINE_FULL | BODY_WAIT | …
        self.writing_paused = False

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def pause_reading(self, reason: int) -> None:
        raise NotImplementedError

    def resume_reading(self, reason: int) -> None:
        raise NotImplementedError

    def stop_reading(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def exchange_done(self, exchange: Any) -> None:
        raise NotImplementedError

    def sweep(self, now: float, config: BalancerConfig) -> None:
        raise NotImplementedError

    def busy(self) -> bool:
        """Whether a request on this connection is unanswered."""
        raise NotImplementedError


class ProxyContext:
    """What every connection shares: configuration, backends, pool, counters."""

    def __init__(
        self,
        config: BalancerConfig,
        backends: BackendSet,
        pool: Pool,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.config = config
        self.backends = backends
        self.pool = pool
        self.loop = loop
        self.proto = config.forwarded_proto.encode()
        self.ids = RequestIds()
        self.access_log = config.access_log
        # A body not yet sent on is kept up to this size; beyond it the client must wait.
        self.body_buffer_cap = max(REPLAY_LIMIT, config.request_buffer)
        # Read on every request: copied out of the configuration, whose fields (a plain
        # dataclass) would be looked up by name.
        self.request_buffer = config.request_buffer
        self.max_body_size = config.max_body_size
        self.max_client_connections = config.max_client_connections
        self.connections_by_address: dict[bytes, int] = {}
        self.clients: set[ClientSide] = set()
        self.clock = loop.time()
        self.shutting_down = False
        self.in_flight = 0
        self.retry_budget = RetryBudget(
            minimum=config.retry_budget_min, percent=config.retry_budget_percent
        )
        self.connections_total = 0
        self.errors: dict[str, int] = {}
        self.all_closed = asyncio.Event()
        # Spans over OTLP only with OTEL_EXPORTER_OTLP_ENDPOINT and the otel extra.
        self.tracer = tracing.from_config(config)

    @property
    def retries_total(self) -> int:
        return self.retry_budget.total

    def count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def error_counts(self) -> dict[str, int]:
        """Error responses and refusals by code (the retry budget counts its own)."""
        counts = dict(self.errors)
        if self.retry_budget.refused:
            counts["retry_budget_exhausted"] = self.retry_budget.refused
        return counts

    def others_available(self, tried: tuple[Backend, ...]) -> bool:
        """Whether a backend that may take requests is not among ``tried``."""
        return any(b not in tried for b in self.backends.available)

    def note_failure(self, backend: Backend) -> None:
        """A connect failure, reset, timeout or 5xx from ``backend`` (passive health)."""
        backend.failures += 1
        backend.streak += 1
        if backend.streak >= self.config.eject_after and backend.health.up:
            backend.streak = 0
            backend.ejected_until = self.clock + self.config.eject_time
            change = backend.health.eject()
            self.backends.health_transition(
                backend, change, f"ejected after {self.config.eject_after} consecutive failures"
            )

    def tick(self, now: float) -> None:
        """Periodic work: timeouts of clients and backends, idle upstream connections."""
        self.clock = now
        config = self.config
        for client in list(self.clients):
            client.sweep(now, config)
        self.pool.sweep(now)
