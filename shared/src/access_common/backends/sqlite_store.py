"""The SQLite store (``aiosqlite``): the embedded default when no PostgreSQL is configured.

One connection per store, in WAL mode with foreign keys on. Statements from different
tasks would otherwise interleave inside each other's transactions on that connection,
so an :class:`asyncio.Lock` serializes them: a plain statement holds it for itself, a
transaction for its whole body.

Portability with :class:`~access_common.backends.postgres_store.PostgresStore`:

* ``$1, $2`` placeholders become SQLite's numbered ``?1, ?2`` (outside string
  literals, quoted identifiers and comments), so one ``$1`` may appear twice.
* Columns declared ``TIMESTAMPTZ`` (or ``TIMESTAMP``) read back as aware UTC
  ``datetime`` objects, ``DATE`` as ``date`` and ``BOOLEAN`` as ``bool``, as asyncpg
  returns them; ``datetime`` arguments are stored as ISO 8601 text in UTC, which also
  sorts correctly. The converters are registered process-wide with
  :func:`sqlite3.register_converter` when this module is imported.
* Avoid ``NUMERIC``: PostgreSQL returns ``Decimal``, SQLite ``int`` or ``float``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from access_common.backends.store import Migration, Row, Transaction
from access_common.errors import BackendError, Conflict

__all__ = ["SqliteStore"]

_MEMORY = ":memory:"
_BUSY_TIMEOUT_MS = 5000

_CREATE_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    id TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""

# A string literal, a quoted identifier, a comment, or a placeholder (group 1).
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$(\d+)""", re.DOTALL)

_UNIQUE_ERRORS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


class SqliteStore:
    """A SQLite implementation of :class:`~access_common.backends.store.Store`."""

    name = "sqlite"
    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    async def start(self) -> None:
        """Open the file (creating its directory); idempotent, and reopens after close."""
        self._closed = False
        async with self._session():
            pass

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet applied, in order, each in its own transaction."""
        _check_ids(migrations)
        applied: list[str] = []
        async with self._session() as conn:
            with _errors():
                await _execute(conn, _CREATE_MIGRATIONS, ())
            for migration in migrations:
                with _errors(migration=migration.id):
                    if await _apply(conn, migration):
                        applied.append(migration.id)
        return applied

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A transaction (``BEGIN IMMEDIATE``): committed on exit, rolled back on error."""
        async with self._session() as conn:
            with _errors():
                await _execute(conn, "BEGIN IMMEDIATE", ())
            transaction = _SqliteTransaction(conn)
            try:
                yield transaction
                with _errors():
                    await _execute(conn, "COMMIT", ())
            finally:
                transaction.active = False
                await _rollback(conn)

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement in its own transaction; return the number of rows it changed."""
        async with self._session() as conn:
            with _errors():
                return await _execute(conn, _translate(sql), args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return every row as a dict."""
        async with self._session() as conn:
            with _errors():
                return await _fetch(conn, _translate(sql), args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """Run a query; return the first row or None."""
        async with self._session() as conn:
            with _errors():
                rows = await _fetch(conn, _translate(sql), args, limit=1)
        return rows[0] if rows else None

    async def ping(self) -> None:
        """Return when the database answers ``SELECT 1``; raise BackendError otherwise."""
        async with self._session() as conn:
            with _errors():
                await _fetch(conn, "SELECT 1", ())

    async def close(self) -> None:
        """Close the file; idempotent. Later calls raise BackendError until ``start``."""
        self._closed = True
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    await conn.close()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, held exclusively by the calling task until exit."""
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            # Waiting for our own lock would hang forever.
            raise RuntimeError("Inside store.transaction(), use the transaction object")
        async with self._lock:
            conn = await self._open()
            self._holder = task
            try:
                yield conn
            finally:
                self._holder = None

    async def _open(self) -> aiosqlite.Connection:
        """The open connection, opening the file on first use."""
        if self._conn is not None:
            return self._conn
        if self._closed:
            raise BackendError("Store is closed", details={"backend": self.name})
        with _errors():
            try:
                if self._path != _MEMORY:
                    Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackendError(
                    "Cannot create the SQLite directory", details={"backend": self.name}
                ) from exc
            # Autocommit mode: transactions are ours (BEGIN IMMEDIATE), never implicit.
            # The busy timeout is set at connect, before the WAL switch: another process
            # opening the same file at once holds a lock, and without a timeout the
            # journal_mode change fails with "database is locked" instead of waiting.
            conn = await aiosqlite.connect(
                self._path,
                isolation_level=None,
                detect_types=sqlite3.PARSE_DECLTYPES,
                timeout=_BUSY_TIMEOUT_MS / 1000,
            )
            try:
                for pragma in (
                    f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}",
                    "PRAGMA journal_mode=WAL",
                    "PRAGMA synchronous=NORMAL",
                    "PRAGMA foreign_keys=ON",
                ):
                    await _fetch(conn, pragma, ())
            except BaseException:
                await conn.close()
                raise
        self._conn = conn
        return conn


class _SqliteTransaction:
    """The statements of one open transaction; valid only inside its ``async with``."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.active = True

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""
        with _errors():
            return await _execute(self._checked(), _translate(sql), args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return every row as a dict."""
        with _errors():
            return await _fetch(self._checked(), _translate(sql), args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """Run a query; return the first row or None."""
        with _errors():
            rows = await _fetch(self._checked(), _translate(sql), args, limit=1)
        return rows[0] if rows else None

    def _checked(self) -> aiosqlite.Connection:
        if not self.active:
            raise RuntimeError("The transaction is finished")
        return self._conn


async def _apply(conn: aiosqlite.Connection, migration: Migration) -> bool:
    """Apply one migration unless recorded; True when applied now."""
    # BEGIN IMMEDIATE takes the write lock first, so another process sharing the file
    # cannot apply the same migration between our check and our insert.
    await _execute(conn, "BEGIN IMMEDIATE", ())
    try:
        done = await _fetch(conn, "SELECT 1 FROM schema_migrations WHERE id = ?1", (migration.id,))
        if done:
            return False
        for statement in _statements(migration.for_dialect("sqlite")):
            await _execute(conn, statement, ())
        await _execute(conn, "INSERT INTO schema_migrations (id) VALUES (?1)", (migration.id,))
        await _execute(conn, "COMMIT", ())
        return True
    finally:
        await _rollback(conn)


async def _execute(conn: aiosqlite.Connection, sql: str, args: Sequence[Any]) -> int:
    async with conn.execute(sql, _parameters(args)) as cursor:
        # rowcount is -1 for statements that change no rows by nature (DDL, SELECT).
        return max(cursor.rowcount, 0)


async def _fetch(
    conn: aiosqlite.Connection, sql: str, args: Sequence[Any], *, limit: int | None = None
) -> list[Row]:
    async with conn.execute(sql, _parameters(args)) as cursor:
        # None (typed as a tuple) when the statement returns no rows at all.
        if not cursor.description:
            return []
        names = [column[0] for column in cursor.description]
        if limit == 1:
            row = await cursor.fetchone()
            rows = [] if row is None else [row]
        else:
            rows = list(await cursor.fetchall())
    return [dict(zip(names, row, strict=True)) for row in rows]


async def _rollback(conn: aiosqlite.Connection) -> None:
    """Roll back whatever is still open; a no-op after COMMIT."""
    if conn.in_transaction:
        # SQLite may already have rolled back by itself after some errors.
        with contextlib.suppress(sqlite3.Error):
            await _execute(conn, "ROLLBACK", ())


@contextlib.contextmanager
def _errors(**details: str) -> Iterator[None]:
    """Translate sqlite3 errors: a unique violation to Conflict, the rest to BackendError."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname in _UNIQUE_ERRORS:
            raise Conflict(
                "A row with this key already exists",
                code="CONFLICT",
                details={"backend": "sqlite", **details},
            ) from exc
        raise BackendError(
            "SQLite rejected the statement", details={"backend": "sqlite", **details}
        ) from exc
    except sqlite3.Error as exc:
        raise BackendError(
            "SQLite failed to run the statement", details={"backend": "sqlite", **details}
        ) from exc


@functools.lru_cache(maxsize=1024)
def _translate(sql: str) -> str:
    """PostgreSQL's ``$n`` placeholders as SQLite's ``?n``, leaving literals alone."""
    return _TOKENS.sub(lambda m: f"?{m.group(1)}" if m.group(1) else m.group(0), sql)


def _statements(script: str) -> list[str]:
    """A migration script split into single statements (``CREATE TRIGGER`` included).

    The sqlite3 module runs one statement per call, and ``executescript`` would commit
    the migration's transaction before starting, so the script is split here, with
    SQLite's own :func:`sqlite3.complete_statement` deciding where a statement ends.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    # The split added a final ";" the script may not have had; drop an empty tail.
    tail = pending[:-1]
    if tail.strip():
        statements.append(tail)
    return [s for s in statements if s.strip(" \t\r\n;")]


def _parameters(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_adapt(arg) for arg in args)


def _adapt(value: Any) -> Any:
    """A Python value as SQLite stores it, matching what the converters read back."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat(sep="T", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _check_ids(migrations: Sequence[Migration]) -> None:
    seen: set[str] = set()
    for migration in migrations:
        if migration.id in seen:
            raise ValueError(f"Duplicate migration id: {migration.id}")
        seen.add(migration.id)


def _convert_timestamp(raw: bytes) -> datetime | str:
    text = raw.decode()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text  # Not written by us; hand it over rather than fail the query.
    # CURRENT_TIMESTAMP and naive arguments are UTC without an offset.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _convert_date(raw: bytes) -> date | str:
    text = raw.decode()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def _convert_bool(raw: bytes) -> bool:
    return raw.strip().lower() not in {b"0", b"", b"false", b"f"}


for _name in ("TIMESTAMPTZ", "TIMESTAMP"):
    sqlite3.register_converter(_name, _convert_timestamp)
sqlite3.register_converter("DATE", _convert_date)
sqlite3.register_converter("BOOLEAN", _convert_bool)
