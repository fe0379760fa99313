"""Peak resident memory of the processes a scenario runs, sampled with psutil."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psutil

MIB = 1024 * 1024


def tree_footprint(members: list[psutil.Process]) -> int:
    """Resident memory of a process tree that shares memory (PostgreSQL's shared buffers):
    each process's private part, plus the largest shared part once."""
    private = shared = 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            info = member.memory_info()
            private += info.rss - info.shared
            shared = max(shared, info.shared)
    return private + shared


class RssSampler:
    """Peak resident memory of named processes (postgres: the server and its children)."""

    def __init__(self, pids: Callable[[], dict[str, int]], every_s: float = 0.25) -> None:
        self.pids = pids
        self.every_s = every_s
        self.peak: dict[str, int] = {}

    def sample(self) -> None:
        for name, pid in self.pids().items():
            try:
                root = psutil.Process(pid)
                if name == "postgres":
                    rss = tree_footprint([root, *root.children(recursive=True)])
                else:
                    rss = root.memory_info().rss
            except psutil.Error:
                continue
            self.peak[name] = max(self.peak.get(name, 0), rss)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every_s)

    def peak_mib(self) -> dict[str, float]:
        return {name: round(rss / MIB, 1) for name, rss in sorted(self.peak.items())}
