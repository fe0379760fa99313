"""Migrations: applied once, in order, even when several instances start together."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from service.users import migrate, migration_files

pytestmark = pytest.mark.integration


def test_migrations_are_ordered_sql_files() -> None:
    files = migration_files()
    versions = [version for version, _ in files]
    assert versions == sorted(versions)
    assert versions[0] == "0001_users"
    assert all(sql.strip() for _, sql in files)


async def test_concurrent_startups_apply_each_migration_once(database_url: str) -> None:
    schema = f"migrations_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    connections = [
        await asyncpg.connect(database_url, server_settings={"search_path": schema})
        for _ in range(4)
    ]
    try:
        applied = await asyncio.gather(*(migrate(connection) for connection in connections))
        assert sorted(applied) == [[], [], [], [v for v, _ in migration_files()]]
        assert await migrate(connections[0]) == []
        rows = await connections[0].fetch("SELECT version FROM schema_migrations")
        assert [row["version"] for row in rows] == [v for v, _ in migration_files()]
        index = await connections[0].fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2",
            schema,
            "users_email_canonical_key",
        )
        assert "UNIQUE" in index
    finally:
        for connection in connections:
            await connection.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
