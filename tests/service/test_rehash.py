"""Changing AUTH_BCRYPT_ROUNDS: hashes follow on the next successful login, and unknown
emails keep costing what the slowest stored hash costs (no timing oracle)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import aiohttp
import asyncpg
import bcrypt
import pytest

from tests.service.conftest import PASSWORD, Api, ServiceProcess, unique_email

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def stored_hash(db: asyncpg.Connection, email: str) -> str:
    value: str = await db.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    return value


async def test_a_successful_login_rehashes_to_the_configured_cost(
    spawn: Callable[..., ServiceProcess],
    http: aiohttp.ClientSession,
    api: Api,
    db: asyncpg.Connection,
) -> None:
    user = await api.new_user(login=False)
    assert (await stored_hash(db, user.email)).startswith("$2b$04$")
    stronger = Api(http, (await asyncio.to_thread(spawn, "rounds-5", AUTH_BCRYPT_ROUNDS="5")).url)
    try:
        assert (await stronger.login(user.email, "not the password")).status == 401
        assert (await stored_hash(db, user.email)).startswith("$2b$04$")
        assert (await stronger.login(user.email)).status == 200
        rehashed = await stored_hash(db, user.email)
        assert rehashed.startswith("$2b$05$")
        assert bcrypt.checkpw(PASSWORD.encode(), rehashed.encode())
        assert (await api.login(user.email)).status == 200  # and back to cost 4
        assert (await stored_hash(db, user.email)).startswith("$2b$04$")
    finally:
        await db.execute("DELETE FROM users WHERE email = $1", user.email)


async def verify_seconds(http: aiohttp.ClientSession, service: ServiceProcess) -> list[float]:
    async with http.get(f"{service.metrics_url}/metrics") as response:
        page = await response.text()
    found = {}
    for line in page.splitlines():
        for name in ("sum", "count"):
            if line.startswith(f'authscale_bcrypt_duration_seconds_{name}{{operation="verify"}}'):
                found[name] = float(line.split()[-1])
    return [found.get("sum", 0.0), found.get("count", 0.0)]


async def test_unknown_emails_cost_what_the_slowest_stored_hash_costs(
    spawn: Callable[..., ServiceProcess], http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    email = f"slow-{uuid.uuid4().hex}@example.com"
    slow = bcrypt.hashpw(b"an old password", bcrypt.gensalt(8)).decode()
    await db.execute(
        "INSERT INTO users (email, email_canonical, password_hash) VALUES ($1, $1, $2)",
        email,
        slow,
    )
    try:
        service = await asyncio.to_thread(spawn, f"dummy-{uuid.uuid4().hex[:6]}")
        client = Api(http, service.url)
        await client.login(unique_email(), "any password at all")  # makes the dummy
        before = await verify_seconds(http, service)
        for _ in range(3):
            assert (await client.login(unique_email(), "any password at all")).status == 401
        after = await verify_seconds(http, service)
    finally:
        await db.execute("DELETE FROM users WHERE email = $1", email)
    per_unknown = (after[0] - before[0]) / (after[1] - before[1])
    started = time.perf_counter()
    bcrypt.checkpw(b"a guess", slow.encode())
    real = time.perf_counter() - started
    # The instance's own cost is 4 (16x cheaper); a busy machine only slows the dummy.
    assert per_unknown >= 0.5 * real


async def test_hashes_of_every_prefix_and_rows_that_are_no_hash_do_not_stop_the_start(
    spawn: Callable[..., ServiceProcess], http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    """``$2$05$…`` (no letter) once broke the cost query, and the service did not start."""
    unusual = bcrypt.hashpw(b"an old password", bcrypt.gensalt(5)).decode()
    rows = {
        f"two-{uuid.uuid4().hex}@example.com": unusual.replace("$2b$", "$2$", 1),
        f"odd-{uuid.uuid4().hex}@example.com": "$2b$xx$not a bcrypt hash",
        f"none-{uuid.uuid4().hex}@example.com": "imported-from-elsewhere",
    }
    for email, stored in rows.items():
        await db.execute(
            "INSERT INTO users (email, email_canonical, password_hash) VALUES ($1, $1, $2)",
            email,
            stored,
        )
    try:
        service = await asyncio.to_thread(spawn, f"prefixes-{uuid.uuid4().hex[:6]}")
        client = Api(http, service.url)
        assert (await client.login(unique_email(), "any password at all")).status == 401
    finally:
        await db.execute("DELETE FROM users WHERE email = ANY($1)", list(rows))
