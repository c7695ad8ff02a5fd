"""The PostgreSQL store (``asyncpg``), shared by every instance of a service.

The pool is created by :meth:`PostgresStore.start`, or by the first call that needs it.
Connect and command timeouts are short so a dead database fails a request in seconds;
asyncpg replaces a pooled connection the server closed when the pool hands it out, so
after PostgreSQL restarts the same store works again (the first call may still fail
with :class:`~access_common.errors.BackendError` while the server is starting).

Rows are dicts of asyncpg's Python types: ``int``, ``str``, ``bool``, ``bytes``, ``None``,
aware UTC ``datetime`` for ``timestamptz`` (naive arguments are taken as UTC), ``date``.
:class:`~access_common.backends.sqlite_store.SqliteStore` returns the same types.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from access_common.backends.store import Migration, Row, Transaction
from access_common.errors import BackendError, Conflict

__all__ = ["PostgresStore"]

_CONNECT_TIMEOUT = 2.0
_COMMAND_TIMEOUT = 5.0
_ACQUIRE_TIMEOUT = 5.0
# Migrations may rewrite big tables, and may wait for another instance's migrations.
_MIGRATE_TIMEOUT = 300.0
# Connections idle this long are closed, so a quiet service holds few sockets open.
_MAX_IDLE = 60.0

# pg_advisory_lock key of migrate(): any constant unique to this code will do.
_MIGRATION_LOCK = 0x254CA4B0_0001

_CREATE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    id TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

# Only these command tags report changed rows; SQLite counts no others either.
_COUNTED = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})

# The server cannot be reached, went away, or is refusing work for now.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    *_UNAVAILABLE,
    asyncpg.PostgresError,
    asyncpg.exceptions.InternalClientError,
)

# The password in ``scheme://user:password@host`` or in a ``password=`` query parameter.
_PASSWORD = re.compile(r"(://[^:/@]*:)[^/?#]*@|(password=)[^&\s]*", re.IGNORECASE)


class PostgresStore:
    """A PostgreSQL implementation of :class:`~access_common.backends.store.Store`."""

    name = "postgres"
    dialect = "postgres"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self._dsn = dsn
        self._display_dsn = _redact(dsn)
        self._min_size = min_size
        self._max_size = max_size
        self._pool: Any = None
        self._start_lock = asyncio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self._display_dsn!r})"

    async def start(self) -> None:
        """Create the pool; idempotent, and reopens after close."""
        self._closed = False
        await self._ready()

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet applied, in order, each in its own transaction.

        A session advisory lock makes instances starting together take turns, so each
        migration is applied once.
        """
        _check_ids(migrations)
        applied: list[str] = []
        async with self._connection() as conn:
            with _errors():
                await conn.execute(
                    "SELECT pg_advisory_lock($1)", _MIGRATION_LOCK, timeout=_MIGRATE_TIMEOUT
                )
            try:
                with _errors():
                    await conn.execute(_CREATE_MIGRATIONS)
                    done = {
                        row["id"] for row in await conn.fetch("SELECT id FROM schema_migrations")
                    }
                for migration in migrations:
                    if migration.id in done:
                        continue
                    with _errors(migration=migration.id):
                        async with conn.transaction():
                            # Without arguments asyncpg uses the simple protocol, which
                            # runs a script of several statements.
                            await conn.execute(
                                migration.for_dialect(self.dialect), timeout=_MIGRATE_TIMEOUT
                            )
                            await conn.execute(
                                "INSERT INTO schema_migrations (id) VALUES ($1)", migration.id
                            )
                    applied.append(migration.id)
            finally:
                # The server drops the lock with the session if this cannot run.
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        return applied

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A transaction on one pooled connection: committed on exit, rolled back on error."""
        async with self._connection() as conn:
            xact = conn.transaction()
            with _errors():
                await xact.start()
            transaction = _PostgresTransaction(conn)
            try:
                yield transaction
            except BaseException:
                transaction.active = False
                # A broken connection has rolled back already; the body's error matters.
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await xact.rollback()
                raise
            transaction.active = False
            with _errors():
                await xact.commit()

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""
        async with self._connection() as conn:
            with _errors():
                return _rowcount(await conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return every row as a dict."""
        async with self._connection() as conn:
            with _errors():
                return [dict(row) for row in await conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """Run a query; return the first row or None."""
        async with self._connection() as conn:
            with _errors():
                row = await conn.fetchrow(sql, *args)
        return None if row is None else dict(row)

    async def ping(self) -> None:
        """Return when the database answers ``SELECT 1``; raise BackendError otherwise."""
        async with self._connection() as conn:
            with _errors():
                await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close the pool; idempotent. Later calls raise BackendError until ``start``."""
        self._closed = True
        async with self._start_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # A graceful close waits for busy connections; stuck or broken ones are cut.
            try:
                await asyncio.wait_for(pool.close(), timeout=_COMMAND_TIMEOUT)
            except asyncio.CancelledError:
                pool.terminate()
                raise
            except _DRIVER_ERRORS:
                pool.terminate()

    async def _ready(self) -> Any:
        """The pool, created on first use."""
        if self._pool is not None:
            return self._pool
        async with self._start_lock:
            if self._closed:
                raise BackendError("Store is closed", details={"backend": self.name})
            if self._pool is None:
                with _errors():
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=self._min_size,
                        max_size=self._max_size,
                        timeout=_CONNECT_TIMEOUT,
                        command_timeout=_COMMAND_TIMEOUT,
                        max_inactive_connection_lifetime=_MAX_IDLE,
                    )
            return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection for the body, returned to the pool afterwards."""
        pool = await self._ready()
        with _errors():
            conn = await pool.acquire(timeout=_ACQUIRE_TIMEOUT)
        try:
            yield conn
        finally:
            # Release resets the connection, or discards it when that fails.
            with contextlib.suppress(*_DRIVER_ERRORS):
                await pool.release(conn)


class _PostgresTransaction:
    """The statements of one open transaction; valid only inside its ``async with``."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.active = True

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""
        conn = self._checked()
        with _errors():
            return _rowcount(await conn.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return every row as a dict."""
        conn = self._checked()
        with _errors():
            return [dict(row) for row in await conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """Run a query; return the first row or None."""
        conn = self._checked()
        with _errors():
            row = await conn.fetchrow(sql, *args)
        return None if row is None else dict(row)

    def _checked(self) -> Any:
        if not self.active:
            raise RuntimeError("The transaction is finished")
        return self._conn


@contextlib.contextmanager
def _errors(**details: str) -> Iterator[None]:
    """Translate driver errors: a unique violation to Conflict, the rest to BackendError.

    Messages are our own: the driver's may quote the DSN's host or a query argument.
    """
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(
            "A row with this key already exists",
            code="CONFLICT",
            details={"backend": "postgres", **details},
        ) from exc
    except _UNAVAILABLE as exc:
        # asyncpg's client-side argument errors are InterfaceErrors and ValueErrors.
        message = (
            "PostgreSQL rejected the statement"
            if isinstance(exc, ValueError)
            else "PostgreSQL is unavailable"
        )
        raise BackendError(message, details={"backend": "postgres", **details}) from exc
    except _DRIVER_ERRORS as exc:
        raise BackendError(
            "PostgreSQL rejected the statement", details={"backend": "postgres", **details}
        ) from exc


def _rowcount(status: str) -> int:
    """Rows changed, from a command tag such as ``INSERT 0 3`` or ``UPDATE 2``."""
    words = status.split()
    if len(words) >= 2 and words[0] in _COUNTED and words[-1].isdigit():
        return int(words[-1])
    return 0


def _check_ids(migrations: Sequence[Migration]) -> None:
    seen: set[str] = set()
    for migration in migrations:
        if migration.id in seen:
            raise ValueError(f"Duplicate migration id: {migration.id}")
        seen.add(migration.id)


def _redact(dsn: str) -> str:
    """The DSN with any password replaced, for reprs and messages."""
    return _PASSWORD.sub(lambda m: f"{m[1]}***@" if m[1] else f"{m[2]}***", dsn)
