"""The service's PostgreSQL pool: a released connection goes back without a reset round trip."""

from __future__ import annotations

import asyncpg
import pytest

from service.users import open_pool

pytestmark = pytest.mark.integration


async def _pool(database_url: str) -> asyncpg.Pool:
    return await open_pool(
        database_url, min_size=1, max_size=1, io_timeout=5.0, startup_timeout=5.0
    )


async def test_a_released_connection_keeps_its_session_because_no_reset_query_runs(
    database_url: str,
) -> None:
    pool = await _pool(database_url)
    try:
        async with pool.acquire() as connection:
            backend = await connection.fetchval("SELECT pg_backend_pid()")
            await connection.execute("SET application_name = 'authscale-pool-test'")
        async with pool.acquire() as connection:
            # The same server session (max_size 1) and its setting survived the release:
            # asyncpg's default reset (RESET ALL, …) would have cleared it.
            assert await connection.fetchval("SELECT pg_backend_pid()") == backend
            assert await connection.fetchval("SHOW application_name") == "authscale-pool-test"
    finally:
        await pool.close()


async def test_an_open_transaction_is_still_rolled_back_on_release(database_url: str) -> None:
    pool = await _pool(database_url)
    try:
        connection = await pool.acquire()
        await connection.execute("BEGIN")
        await connection.execute("CREATE TEMP TABLE pool_probe (x int)")
        await pool.release(connection)
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction()
            exists = await connection.fetchval("SELECT to_regclass('pool_probe') IS NOT NULL")
            assert exists is False
    finally:
        await pool.close()
