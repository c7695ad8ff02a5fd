"""The relational store interface: entitlement rules, audit, anything tabular.

SQL uses PostgreSQL's ``$1, $2`` placeholders and the portable subset of SQL both
engines share; a migration may give a SQLite variant where the dialects differ.
Implementations: :class:`~access_common.backends.sqlite_store.SqliteStore` (embedded
default) and :class:`~access_common.backends.postgres_store.PostgresStore` (asyncpg);
both pass ``shared/tests/backends/test_store_contract.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Migration", "Row", "Store", "Transaction"]

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step, applied once and recorded by id in ``schema_migrations``."""

    id: str
    sql: str
    sqlite_sql: str | None = None

    def for_dialect(self, dialect: str) -> str:
        """The SQL to run on the given dialect ('postgres' or 'sqlite')."""
        if dialect == "sqlite" and self.sqlite_sql is not None:
            return self.sqlite_sql
        return self.sql


@runtime_checkable
class Transaction(Protocol):
    """Statements that commit together or not at all."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; return every row as a dict."""
        ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """Run a query; return the first row or None."""
        ...


@runtime_checkable
class Store(Transaction, Protocol):
    """A relational database with migrations.

    Every method raises :class:`access_common.errors.BackendError` when the database
    cannot be reached, and :class:`access_common.errors.Conflict` on a unique violation.
    """

    name: str
    dialect: str

    async def start(self) -> None:
        """Open the pool or file; idempotent."""
        ...

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet applied, in order; return the ids applied now."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction: committed on normal exit, rolled back on an exception."""
        ...

    async def ping(self) -> None:
        """Return when the database answers; raise BackendError otherwise."""
        ...

    async def close(self) -> None:
        """Close the pool or file; idempotent."""
        ...
