"""Session-wide fixtures: the infrastructure (PostgreSQL + Redis) every integration test uses.

With DATABASE_URL / REDIS_URL set, those servers are used; otherwise the lab starts embedded
ones for the test session and stops them at its end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    yield url
