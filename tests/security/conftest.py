"""The system under attack: two real service instances behind the real balancer.

One stack serves the whole security suite: ``python -m service`` twice and
``python -m balancer`` in front (through :class:`lab.harness.topology.Topology`), on the
session's PostgreSQL and Redis, with Redis keys under a prefix of this suite's own.
Attacks go through the balancer (``gateway``) or straight to one instance
(``instances``); raw-socket attacks use :func:`raw_exchange`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lab.harness.topology import Topology, TopologyConfig
from tests.service.conftest import Api

#: The balancer's request-head timeout in this stack, short so slow clients are cut quickly.
HEADER_TIMEOUT_S = 1.0


def start_stack(
    run_dir: Path,
    database_url: str,
    redis_url: str,
    *,
    instances: int = 2,
    balancer: bool = True,
    bcrypt_rounds: int = 4,
    **env: str,
) -> Topology:
    settings = {
        "AUTH_REDIS_PREFIX": f"authscale-security-{uuid.uuid4().hex[:8]}:",
        "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000",
        # The suite signs all its users up from loopback; the limit has its own test.
        "AUTH_SIGNUP_MAX_PER_ADDRESS": "1000000",
        **env,
    }
    topology = Topology(
        TopologyConfig(
            instances=instances,
            balancer=balancer,
            database_url=database_url,
            redis_url=redis_url,
            run_dir=run_dir,
            bcrypt_rounds=bcrypt_rounds,
            service_env=tuple(settings.items()),
            balancer_args=("--header-timeout", str(HEADER_TIMEOUT_S)),
            health_interval="0.5",
        )
    )
    return topology.start()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    topology = start_stack(tmp_path_factory.mktemp("security-stack"), database_url, redis_url)
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def signing_key(stack: Topology) -> Ed25519PrivateKey:
    assert stack.key_file is not None
    key = serialization.load_pem_private_key(stack.key_file.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def gateway(http: aiohttp.ClientSession, stack: Topology) -> Api:
    """A client of the balancer."""
    return Api(http, stack.entry_url)


@pytest.fixture
def instances(http: aiohttp.ClientSession, stack: Topology) -> list[Api]:
    """A client of each instance, bypassing the balancer."""
    return [Api(http, instance.url) for instance in stack.instances]


def session_id_of(access_token: str) -> str:
    sid: str = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    return sid


def balancer_port(stack: Topology) -> int:
    assert stack.balancer is not None
    return stack.balancer.port


async def raw_exchange(port: int, data: bytes, *, read_timeout: float = 2.0) -> tuple[bytes, bool]:
    """Send raw bytes to 127.0.0.1:port; return what came back and whether the server
    closed the connection (False: it was still open when ``read_timeout`` ran out)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    closed = False
    try:
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            pass
        try:
            async with asyncio.timeout(read_timeout):
                while chunk := await reader.read(65536):
                    received += chunk
                closed = True
        except TimeoutError:
            pass
        except ConnectionError:
            closed = True
    finally:
        writer.close()
    return received, closed


def responses_in(data: bytes) -> int:
    """How many HTTP/1.1 responses a byte stream holds (status lines at message starts)."""
    return data.count(b"HTTP/1.1 ") + data.count(b"HTTP/1.0 ")
