"""Session-wide fixtures: the PostgreSQL and Redis every integration test talks to.

With DATABASE_URL and REDIS_URL set, those servers are used (CI runs the integration tests a
second time that way, against the machine's own servers). Otherwise the lab starts embedded
servers for this test session in a private state folder and stops them at its end.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.harness import config, infra, procs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def lab_state_root() -> Iterator[Path]:
    """A state folder of this test session's own, removed at its end."""
    root = REPO / config.DEFAULT_STATE_DIR / f"test-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def infrastructure(lab_state_root: Path) -> Iterator[infra.Infra]:
    cfg = config.infra_config(state_dir=lab_state_root / "infra")
    running = infra.start(cfg)
    started = running.started_pids()
    try:
        yield running
    finally:
        running.stop()
    survivors = [name for name, pid in started.items() if procs.pid_alive(pid)]
    assert not survivors, f"the infra fixture left {survivors} running"


@pytest.fixture(scope="session")
def database_url(infrastructure: infra.Infra) -> str:
    return infrastructure.database_url


@pytest.fixture(scope="session")
def redis_url(infrastructure: infra.Infra) -> str:
    return infrastructure.redis_url
