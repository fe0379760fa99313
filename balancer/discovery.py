"""DNS discovery: re-resolve a name every few seconds and follow its answers.

New addresses join through :meth:`BackendSet.add` and vanished ones leave through
:meth:`BackendSet.remove` (drain, then remove) — the admin API's own path. A failed or empty
resolution changes nothing: a DNS hiccup must not empty the pool. With Docker Swarm,
``tasks.<service>`` resolves to every task's address, bypassing the routing mesh.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

from balancer.backends import BackendSet
from balancer.errors import AdminError

logger = logging.getLogger("balancer.discovery")

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(name: str, port: int) -> list[str]:
    """Addresses of ``name`` from the system resolver (``getaddrinfo``)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def backend_url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


class DnsDiscovery:
    """Keeps the backends for ``name:port`` in line with what ``resolver`` answers."""

    def __init__(
        self,
        backends: BackendSet,
        name: str,
        port: int,
        *,
        interval: float,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.backends = backends
        self.name = name
        self.port = port
        self.interval = interval
        self.resolver = resolver
        self.owned: dict[str, str] = {}

    def apply(self, addresses: Iterable[str]) -> tuple[list[str], list[str]]:
        """Add and remove backends to match ``addresses``; returns (added, removed) URLs."""
        wanted = {backend_url(address, self.port) for address in addresses}
        added: list[str] = []
        removed: list[str] = []
        for url in sorted(wanted - self.owned.keys()):
            try:
                backend = self.backends.add(url, up=False)
            except AdminError as exc:
                logger.warning("DNS %s: not adding %s: %s", self.name, url, exc.message)
                continue
            self.owned[url] = backend.id
            added.append(url)
        for url in sorted(self.owned.keys() - wanted):
            backend_id = self.owned.pop(url)
            try:
                self.backends.remove(backend_id)
            except AdminError:
                continue
            removed.append(url)
        if added or removed:
            logger.info(
                "DNS %s: added %s, removed %s",
                self.name,
                added or "none",
                removed or "none",
                extra={
                    "fields": {
                        "event": "dns_change",
                        "name": self.name,
                        "added": added,
                        "removed": removed,
                    }
                },
            )
        return added, removed

    async def refresh(self) -> None:
        try:
            addresses = await self.resolver(self.name, self.port)
        except (OSError, UnicodeError) as exc:
            logger.warning(
                "DNS %s: resolution failed (%s); keeping current backends", self.name, exc
            )
            return
        if not addresses:
            logger.warning("DNS %s: no addresses; keeping current backends", self.name)
            return
        self.apply(addresses)

    async def run(self) -> None:
        """Re-resolve every ``interval`` seconds, forever (the first refresh is the caller's)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()
