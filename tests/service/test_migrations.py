"""Migrations: applied once, in order, even when several instances start together."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from datetime import date

import asyncpg
import pytest

from service.users import migrate, migration_files

pytestmark = pytest.mark.integration


def test_migrations_are_ordered_files() -> None:
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


def test_the_idna_migration_plans_collisions_oldest_first() -> None:
    migration = importlib.import_module("service.migrations.0002_email_domains_idna")
    rows = [
        migration.Row("new", "x@ß.test", "x@ss.test", (2, "new")),
        migration.Row("old", "X@ß.test", "x@ß-legacy.test", (1, "old")),
        migration.Row("held", "y@ß.test", "y@ss.test", (3, "held")),
        migration.Row("same", "z@ü.test", "z@xn--tda.test", (4, "same")),
        migration.Row("bad", "w@foo_bar.test", "w@foo_bar.test", (5, "bad")),
    ]
    plan = migration.plan(rows, {"y@xn--zca.test": "holder"})
    assert plan.updates == {
        "old": "x@xn--zca.test",
        "new": "collision:new:x@xn--zca.test",
        "held": "collision:held:y@xn--zca.test",
    }
    assert sorted(plan.collisions) == [
        ("held", "y@xn--zca.test", "holder"),
        ("new", "x@xn--zca.test", "old"),
    ]
    # IDNA2008 refuses the domain: nobody can log in with the row's old form, so it is listed.
    assert plan.refused == ["bad"]


async def test_existing_rows_get_the_idna_canonical_form(database_url: str) -> None:
    schema = f"idna_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    connection = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        # The schema as 0001 left it, with canonical forms computed the old way.
        versions = [version for version, _ in migration_files()]
        await connection.execute(dict(migration_files())["0001_users"])
        await connection.execute(
            "CREATE TABLE schema_migrations (version text PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await connection.execute("INSERT INTO schema_migrations VALUES ('0001_users')")
        old_rows = [
            ("a@ß.test", "a@ss.test", "2026-01-01"),
            ("b@example.com", "b@example.com", "2026-01-02"),
            ("ü@example.com", "ü@example.com", "2026-01-03"),
            ("C@ß.test", "c@ss.test", "2026-01-04"),
            ("c@ß.test", "c@ß-legacy.test", "2026-01-05"),
            ("d@foo_bar.test", "d@foo_bar.test", "2026-01-06"),
            ("e@⒈bad.test", "e@1.bad.test", "2026-01-07"),
        ]
        await connection.executemany(
            "INSERT INTO users (email, email_canonical, password_hash, created_at)"
            " VALUES ($1, $2, 'x', $3::date)",
            [(email, canonical, date.fromisoformat(day)) for email, canonical, day in old_rows],
        )
        assert await migrate(connection) == versions[1:]
        rows = await connection.fetch(
            "SELECT email, email_canonical FROM users ORDER BY created_at"
        )
        assert [row["email_canonical"] for row in rows[:4]] == [
            "a@xn--zca.test",
            "b@example.com",
            "ü@example.com",
            "c@xn--zca.test",
        ]
        assert rows[4]["email_canonical"].startswith("collision:")
        collisions = await connection.fetch(
            "SELECT u.email, c.wanted, c.reason FROM email_canonical_collisions c"
            " JOIN users u ON u.id = c.user_id ORDER BY u.created_at"
        )
        assert [tuple(row) for row in collisions] == [
            ("c@ß.test", "c@xn--zca.test", "collision"),
            ("d@foo_bar.test", None, "invalid_domain"),
            ("e@⒈bad.test", None, "invalid_domain"),
        ]
        assert [row["email_canonical"] for row in rows[5:]] == ["d@foo_bar.test", "e@1.bad.test"]
        # ß.test and ss.test are two domains now: a@ss.test is free.
        await connection.execute(
            "INSERT INTO users (email, email_canonical, password_hash)"
            " VALUES ('a@ss.test', 'a@ss.test', 'x')"
        )
    finally:
        await connection.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
