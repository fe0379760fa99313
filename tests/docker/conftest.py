"""Fixtures shared by the deployment tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from lab.harness.procs import free_port

if TYPE_CHECKING:
    from tests.docker.deployment import Deployment


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="package")
def deployment(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A real service behind a real balancer, shared by the tests of this folder."""
    from tests.docker.deployment import running_deployment

    with running_deployment(
        database_url, redis_url, tmp_path_factory.mktemp("deployment")
    ) as running:
        yield running


def pytest_configure(config: pytest.Config) -> None:
    # Until pytest.ini lists it (--strict-markers refuses unknown markers).
    config.addinivalue_line(
        "markers", "docker: needs a Docker engine (started here as root when none answers)"
    )
