"""The HTTP client: one aiohttp session for the whole process, with connect timing.

k6 reports TCP connect time as ``http_req_connecting`` and leaves it out of
``http_req_duration``. aiohttp's ``TraceConfig`` would give it, but enabling tracing adds
signal objects to every request; instead :class:`TimedConnector` times only the (rare)
creation of a new connection and adds it to the :class:`ConnectTimer` of the VU whose
request opened it, found through a context variable that each iteration sets once.
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter_ns
from typing import Any

import aiohttp


class ConnectTimer:
    """Nanoseconds spent opening connections since the last request was recorded."""

    __slots__ = ("connect_ns",)

    def __init__(self) -> None:
        self.connect_ns = 0


CURRENT_TIMER: ContextVar[ConnectTimer | None] = ContextVar("loadgen_connect_timer", default=None)


class TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector that charges connection set-up time to the current VU."""

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        started = perf_counter_ns()
        protocol = await super()._create_connection(req, traces, timeout)
        timer = CURRENT_TIMER.get()
        if timer is not None:
            timer.connect_ns += perf_counter_ns() - started
        return protocol


def new_session(request_timeout_s: float) -> aiohttp.ClientSession:
    """A keep-alive session without a connection limit (every VU may hold a connection)."""
    connector = TimedConnector(limit=0, keepalive_timeout=60.0)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=request_timeout_s),
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )
