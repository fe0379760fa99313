"""The user store: users in PostgreSQL through an asyncpg pool, and the schema migrations.

asyncpg errors stop here: a unique violation becomes :class:`EmailTaken`, a connection
that fails or a query that times out becomes :class:`Unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib import resources
from time import perf_counter
from typing import Any

import asyncpg

from service import stores, timing
from service.errors import EmailTaken, ServiceError, Unavailable

log = logging.getLogger("authscale.service")

# Any number, as long as every instance uses the same one.
MIGRATION_LOCK_KEY = 0x6175_7468_7363_616C  # "authscal"

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    # A connection left mid-protocol by a server shutting down: asyncpg refuses to use it
    # ("another operation is in progress") and the pool replaces it.
    asyncpg.InternalClientError,
)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str


@dataclass(frozen=True, slots=True)
class Credentials:
    id: str
    email: str
    password_hash: str


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise EmailTaken() from exc
    except UNAVAILABLE_ERRORS as exc:
        raise Unavailable("the user database is unavailable") from exc
    except asyncpg.PostgresError as exc:
        raise ServiceError(f"unexpected database error: {exc}") from exc


class UserStore:
    """Creates and finds users; every call is bounded by ``timeout`` seconds."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        # The db phase of Server-Timing: waiting for a pooled connection and the queries.
        started = perf_counter()
        try:
            with translate_errors():
                async with self._pool.acquire(timeout=self._timeout) as connection:
                    yield connection
        finally:
            timing.add_elapsed(timing.DB, started)

    async def create(self, *, email: str, email_canonical: str, password_hash: str) -> User:
        """Insert a user; :class:`EmailTaken` when the canonical address exists."""
        async with self._connection() as connection:
            row = await connection.fetchrow(
                "INSERT INTO users (email, email_canonical, password_hash)"
                " VALUES ($1, $2, $3) RETURNING id",
                email,
                email_canonical,
                password_hash,
                timeout=self._timeout,
            )
        return User(id=str(row["id"]), email=email)

    async def find_credentials(self, email_canonical: str) -> Credentials | None:
        """The user with this canonical address and their password hash, if any."""
        async with self._connection() as connection:
            row = await connection.fetchrow(
                "SELECT id, email, password_hash FROM users WHERE email_canonical = $1",
                email_canonical,
                timeout=self._timeout,
            )
        if row is None:
            return None
        return Credentials(
            id=str(row["id"]), email=row["email"], password_hash=row["password_hash"]
        )

    async def replace_password_hash(self, *, user_id: str, old: str, new: str) -> bool:
        """Store ``new`` in place of ``old`` (a rehash); False when ``old`` is no longer there.

        Compare-and-set, so a rehash never overwrites a hash that changed meanwhile.
        """
        async with self._connection() as connection:
            status: str = await connection.execute(
                "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                user_id,
                old,
                new,
                timeout=self._timeout,
            )
        return status.endswith(" 1")

    async def highest_password_cost(self) -> int | None:
        """The highest bcrypt cost among stored hashes (``$2b$12$…``), None when no user.

        Reads the whole table once (at startup): the dummy hash for unknown emails must
        cost what the slowest real account costs.
        """
        async with self._connection() as connection:
            # The cost is the third '$' field whatever the prefix's length (``$2$10$…`` has
            # no letter); a row whose field is not a number is no bcrypt hash and is skipped.
            cost: int | None = await connection.fetchval(
                "SELECT max(split_part(password_hash, '$', 3)::int) FROM users"
                " WHERE split_part(password_hash, '$', 3) ~ '^[0-9]{1,2}$'",
                timeout=self._timeout,
            )
        return cost

    async def ping(self) -> None:
        """Raise :class:`Unavailable` unless the database answers a trivial query."""
        async with self._connection() as connection:
            await connection.fetchval("SELECT 1", timeout=self._timeout)


def migration_files() -> list[tuple[str, str]]:
    """(version, text) of every migration, in the order they apply.

    A migration is SQL (``NNNN_name.sql``) or, where SQL cannot compute it, a Python
    module (``NNNN_name.py``) with ``async def apply(connection)``; the text is its source.
    """
    folder = resources.files("service.migrations")
    found = [
        (entry.name.rpartition(".")[0], entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith((".sql", ".py")) and entry.name[:4].isdigit()
    ]
    return sorted(found)


async def _apply(connection: Any, version: str, text: str) -> None:
    if not resources.files("service.migrations").joinpath(f"{version}.py").is_file():
        await connection.execute(text)
        return
    module = importlib.import_module(f"service.migrations.{version}")
    await module.apply(connection)


async def migrate(connection: Any) -> list[str]:
    """Apply the migrations not yet applied; safe when many instances start together.

    A session advisory lock serialises instances; each migration runs in its own
    transaction together with its row in ``schema_migrations``. Returns what was applied.
    """
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await connection.fetch("SELECT version FROM schema_migrations")
        done = {row["version"] for row in rows}
        for version, sql in migration_files():
            if version in done:
                continue
            async with connection.transaction():
                await _apply(connection, version, sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)", version
                )
            applied_now.append(version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """Release a connection to the pool without asyncpg's reset query.

    By default every release sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL;``: one more round trip (and Postgres work) per request. The service's queries
    leave no session state behind them: no ``SET``, cursors, ``LISTEN`` or advisory locks on
    a request's connection (the migration lock is taken and released before the pool serves
    anything, and a failed migration closes the pool). asyncpg still rolls back an open
    transaction before calling this.
    """


async def open_pool(
    database_url: str, *, min_size: int, max_size: int, io_timeout: float, startup_timeout: float
) -> asyncpg.Pool:
    """Connect (retrying until ``startup_timeout``), apply migrations, return the pool."""
    loop = asyncio.get_running_loop()
    wait = stores.StartupWait(
        "PostgreSQL",
        stores.postgres_location(database_url),
        patience=startup_timeout,
        began=loop.time(),
    )
    while True:
        try:
            pool = await asyncpg.create_pool(
                database_url,
                min_size=min_size,
                max_size=max_size,
                timeout=io_timeout,
                command_timeout=io_timeout,
                reset=_nothing_to_reset,
            )
            break
        except (*UNAVAILABLE_ERRORS, asyncpg.exceptions.CannotConnectNowError) as exc:
            warning = wait.failed(loop.time(), exc)
            if warning is not None:
                log.warning("%s", warning)
            await asyncio.sleep(stores.RETRY_DELAY)
        except asyncpg.PostgresError as exc:
            raise ServiceError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        with translate_errors():
            async with pool.acquire() as connection:
                applied = await migrate(connection)
    except BaseException:
        await pool.close()
        raise
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return pool
