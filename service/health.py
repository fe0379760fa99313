"""Readiness: both backing stores answer within a short timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from service.errors import ServiceError

Probe = Callable[[], Awaitable[object]]


async def _answers(probe: Probe, limit: float) -> bool:
    try:
        async with asyncio.timeout(limit):
            await probe()
    except (ServiceError, TimeoutError, OSError):
        return False
    return True


async def check_ready(probes: Mapping[str, Probe], *, limit: float) -> dict[str, str]:
    """Run every probe concurrently; ``{"postgres": "ok", "redis": "unavailable"}``."""
    names = list(probes)
    results = await asyncio.gather(*(_answers(probes[name], limit) for name in names))
    return {name: "ok" if ok else "unavailable" for name, ok in zip(names, results, strict=True)}
