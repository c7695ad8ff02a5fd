"""The Store contract, run against SQLite and a real PostgreSQL.

The PostgreSQL DSN comes from ``ACCESS_TEST_POSTGRES_DSN`` (scripts/backends.sh); each
test gets a schema of its own (via ``search_path``) that is dropped afterwards.

Types both engines return: ``int`` (INTEGER/BIGINT), ``str`` (TEXT), ``bool``
(BOOLEAN), ``None`` (NULL), ``float`` (DOUBLE PRECISION), ``bytes`` (BYTEA/BLOB),
``date`` (DATE) and aware UTC ``datetime`` (TIMESTAMPTZ).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from access_common.backends.postgres_store import PostgresStore
from access_common.backends.sqlite_store import SqliteStore
from access_common.backends.store import Migration, Store, Transaction
from access_common.errors import BackendError, Conflict
from access_common.testing import backend_url

MakeStore = Callable[[], Store]

ITEMS = Migration(
    "001_items",
    """
    CREATE TABLE items (
        id BIGINT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        note TEXT
    )
    """,
)


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with ``search_path`` set; asyncpg passes unknown parameters to the server."""
    parts = urlsplit(dsn)
    query = f"{parts.query}&search_path={schema}" if parts.query else f"search_path={schema}"
    return urlunsplit(parts._replace(query=query))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """A factory of stores on one fresh database; every store is closed afterwards."""
    stores: list[Store] = []
    admin: PostgresStore | None = None
    if request.param == "sqlite":
        # A missing parent directory is part of the contract: the store creates it.
        path = tmp_path / "nested" / "store.sqlite3"

        def make() -> Store:
            stores.append(SqliteStore(path))
            return stores[-1]

    else:
        dsn = backend_url("postgres")
        schema = f"test_{uuid.uuid4().hex}"
        admin = PostgresStore(dsn, max_size=1)
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        isolated = with_search_path(dsn, schema)

        def make() -> Store:
            stores.append(PostgresStore(isolated, max_size=4))
            return stores[-1]

    yield make
    for store in stores:
        await store.close()
    if admin is not None:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return make_store()


@pytest.fixture
async def items(store: Store) -> Store:
    await store.migrate([ITEMS])
    return store


async def names(store: Store) -> list[str]:
    return [row["name"] for row in await store.fetch("SELECT name FROM items ORDER BY id")]


def test_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.dialect == store.name
    assert store.dialect in {"sqlite", "postgres"}


@pytest.mark.postgres
@pytest.mark.parametrize("make_store", ["postgres"], indirect=True)
async def test_postgres_tests_run_in_their_own_schema(store: Store) -> None:
    row = await store.fetchrow("SELECT current_schema() AS schema")
    assert row is not None
    assert row["schema"].startswith("test_")


# Migrations


async def test_migrate_applies_in_order_once(store: Store) -> None:
    migrations = [
        ITEMS,
        Migration("002_seed", "INSERT INTO items (id, name) VALUES (1, 'first')"),
        Migration("003_more", "INSERT INTO items (id, name) VALUES (2, 'second')"),
    ]
    assert await store.migrate(migrations) == ["001_items", "002_seed", "003_more"]
    assert await store.migrate(migrations) == []
    assert await names(store) == ["first", "second"]
    later = [*migrations, Migration("004_index", "CREATE INDEX items_note ON items (note)")]
    assert await store.migrate(later) == ["004_index"]
    rows = await store.fetch("SELECT id, applied_at FROM schema_migrations ORDER BY id")
    assert [row["id"] for row in rows] == ["001_items", "002_seed", "003_more", "004_index"]
    for row in rows:
        assert isinstance(row["applied_at"], datetime)
        assert row["applied_at"].utcoffset() == timedelta(0)


async def test_migration_with_several_statements(store: Store) -> None:
    script = Migration(
        "001_script",
        """
        CREATE TABLE a (id BIGINT PRIMARY KEY, label TEXT);  -- a comment; with a semicolon
        INSERT INTO a (id, label) VALUES (1, 'semi;colon');
        INSERT INTO a (id, label) VALUES (2, 'it''s');
        """,
    )
    assert await store.migrate([script]) == ["001_script"]
    rows = await store.fetch("SELECT label FROM a ORDER BY id")
    assert rows == [{"label": "semi;colon"}, {"label": "it's"}]


async def test_failed_migration_rolls_back_and_stops(store: Store) -> None:
    broken = Migration(
        "002_broken",
        "CREATE TABLE half (id BIGINT); INSERT INTO no_such_table VALUES (1)",
    )
    never = Migration("003_never", "CREATE TABLE never (id BIGINT)")
    with pytest.raises(BackendError) as caught:
        await store.migrate([ITEMS, broken, never])
    assert caught.value.details["migration"] == "002_broken"
    assert caught.value.details["backend"] == store.name
    applied = await store.fetch("SELECT id FROM schema_migrations")
    assert applied == [{"id": "001_items"}]
    # The broken migration's first statement was rolled back with it.
    with pytest.raises(BackendError):
        await store.fetch("SELECT * FROM half")
    fixed = Migration("002_broken", "CREATE TABLE half (id BIGINT)")
    assert await store.migrate([ITEMS, fixed, never]) == ["002_broken", "003_never"]


async def test_migration_dialect_variant(store: Store) -> None:
    migration = Migration(
        "001_auto",
        "CREATE TABLE auto (id BIGSERIAL PRIMARY KEY, label TEXT)",
        sqlite_sql="CREATE TABLE auto (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT)",
    )
    await store.migrate([migration])
    await store.execute("INSERT INTO auto (label) VALUES ($1), ($2)", "a", "b")
    assert await store.fetch("SELECT id, label FROM auto ORDER BY id") == [
        {"id": 1, "label": "a"},
        {"id": 2, "label": "b"},
    ]


async def test_duplicate_migration_ids_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="Duplicate"):
        await store.migrate([ITEMS, Migration("001_items", "SELECT 1")])


async def test_concurrent_migrate_applies_each_once(make_store: MakeStore) -> None:
    migrations = [
        ITEMS,
        *(
            Migration(f"{n:03}_row", f"INSERT INTO items (id, name) VALUES ({n}, 'row{n}')")  # noqa: S608
            for n in range(2, 12)
        ),
    ]
    first, second = make_store(), make_store()
    applied = await asyncio.gather(first.migrate(migrations), second.migrate(migrations))
    assert sorted(applied[0] + applied[1]) == [m.id for m in migrations]
    rows = await first.fetch("SELECT count(*) AS n FROM items")
    assert rows == [{"n": 10}]


# Statements


async def test_execute_returns_changed_rows(items: Store) -> None:
    inserted = await items.execute(
        "INSERT INTO items (id, name) VALUES ($1, $2), ($3, $4), ($5, $6)",
        *(1, "a", 2, "b", 3, "c"),
    )
    assert inserted == 3
    assert await items.execute("UPDATE items SET note = $1 WHERE id >= $2", "x", 2) == 2
    assert await items.execute("UPDATE items SET note = $1 WHERE id > $2", "x", 100) == 0
    assert await items.execute("DELETE FROM items WHERE id = $1", 1) == 1
    assert await items.execute("CREATE TABLE other (id BIGINT)") == 0


async def test_fetch_returns_dicts(items: Store) -> None:
    assert await items.fetch("SELECT id, name FROM items") == []
    await items.execute("INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b')")
    rows = await items.fetch("SELECT id, name, note FROM items ORDER BY id")
    assert rows == [
        {"id": 1, "name": "a", "note": None},
        {"id": 2, "name": "b", "note": None},
    ]


async def test_fetchrow(items: Store) -> None:
    assert await items.fetchrow("SELECT id FROM items WHERE id = $1", 1) is None
    await items.execute("INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b')")
    assert await items.fetchrow("SELECT id, name FROM items ORDER BY id DESC") == {
        "id": 2,
        "name": "b",
    }


async def test_python_types(store: Store) -> None:
    await store.migrate(
        [
            Migration(
                "001_types",
                """
                CREATE TABLE types (
                    id BIGINT PRIMARY KEY, label TEXT, flag BOOLEAN, ratio DOUBLE PRECISION,
                    at TIMESTAMPTZ, day DATE, data BYTEA, missing TEXT
                )
                """,
                sqlite_sql="""
                CREATE TABLE types (
                    id BIGINT PRIMARY KEY, label TEXT, flag BOOLEAN, ratio DOUBLE PRECISION,
                    at TIMESTAMPTZ, day DATE, data BLOB, missing TEXT
                )
                """,
            )
        ]
    )
    at = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    data = bytes(range(256))
    await store.execute(
        "INSERT INTO types VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        *(2**40, "héllo", True, 0.25, at, date(2024, 5, 6), data, None),
    )
    await store.execute("INSERT INTO types (id, flag) VALUES ($1, $2)", 2, False)
    row = await store.fetchrow("SELECT * FROM types WHERE id = $1", 2**40)
    assert row == {
        "id": 2**40,
        "label": "héllo",
        "flag": True,
        "ratio": 0.25,
        "at": at,
        "day": date(2024, 5, 6),
        "data": data,
        "missing": None,
    }
    assert type(row["id"]) is int
    assert type(row["flag"]) is bool
    assert type(row["data"]) is bytes
    assert row["at"].utcoffset() == timedelta(0)
    other = await store.fetchrow("SELECT flag FROM types WHERE id = 2")
    assert other == {"flag": False}
    assert type(other["flag"]) is bool


async def test_timestamps_compare_across_offsets(store: Store) -> None:
    await store.migrate([Migration("001_events", "CREATE TABLE events (n BIGINT, at TIMESTAMPTZ)")])
    base = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    moments = [
        (1, base),
        (2, (base + timedelta(microseconds=1)).astimezone(plus_two)),
        (3, base + timedelta(seconds=1)),
        (4, (base - timedelta(hours=1)).astimezone(plus_two)),
    ]
    for n, at in moments:
        await store.execute("INSERT INTO events (n, at) VALUES ($1, $2)", n, at)
    rows = await store.fetch("SELECT n, at FROM events ORDER BY at")
    assert [row["n"] for row in rows] == [4, 1, 2, 3]
    later = await store.fetch("SELECT n FROM events WHERE at > $1 ORDER BY n", base)
    assert [row["n"] for row in later] == [2, 3]
    assert rows[1]["at"] == base


async def test_placeholders(items: Store) -> None:
    await items.execute("INSERT INTO items (id, name, note) VALUES ($1, $2, $2)", 1, "same")
    assert await items.fetch("SELECT id FROM items WHERE name = $1 AND note = $1", "same") == [
        {"id": 1}
    ]
    # A literal "$1" is text, not a placeholder.
    row = await items.fetchrow("SELECT '$1' AS literal, name FROM items WHERE id = $1", 1)
    assert row == {"literal": "$1", "name": "same"}
    # $10 must not be read as $1 followed by a zero.
    row = await items.fetchrow(
        "SELECT $10 AS j, $1 AS a, $2 AS b FROM items"
        " WHERE name NOT IN ($3, $4, $5, $6, $7, $8, $9)",
        *(str(n) for n in range(1, 11)),
    )
    assert row == {"j": "10", "a": "1", "b": "2"}


async def test_sql_error_is_a_backend_error(items: Store) -> None:
    with pytest.raises(BackendError) as caught:
        await items.fetch("SELECT nope FROM items")
    assert caught.value.details == {"backend": items.name}
    with pytest.raises(BackendError):
        await items.execute("THIS IS NOT SQL")


# Conflicts


async def test_unique_violation_is_a_conflict(items: Store) -> None:
    await items.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
    with pytest.raises(Conflict) as caught:
        await items.execute("INSERT INTO items (id, name) VALUES (2, 'a')")
    assert caught.value.code == "CONFLICT"
    assert caught.value.status == 409
    with pytest.raises(Conflict):
        await items.execute("INSERT INTO items (id, name) VALUES (1, 'b')")
    assert await names(items) == ["a"]


# Transactions


async def test_transaction_commits(items: Store) -> None:
    async with items.transaction() as tx:
        assert isinstance(tx, Transaction)
        assert await tx.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "a") == 1
        await tx.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 2, "b")
        assert await tx.fetch("SELECT name FROM items ORDER BY id") == [
            {"name": "a"},
            {"name": "b"},
        ]
        assert await tx.fetchrow("SELECT name FROM items WHERE id = $1", 2) == {"name": "b"}
    assert await names(items) == ["a", "b"]


async def test_transaction_rolls_back_on_exception(items: Store) -> None:
    await items.execute("INSERT INTO items (id, name) VALUES (1, 'kept')")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with items.transaction() as tx:
            await tx.execute("INSERT INTO items (id, name) VALUES (2, 'lost')")
            await tx.execute("UPDATE items SET note = 'changed'")
            raise Boom
    assert await items.fetch("SELECT name, note FROM items") == [{"name": "kept", "note": None}]


async def test_conflict_inside_a_transaction_rolls_it_back(items: Store) -> None:
    with pytest.raises(Conflict):
        async with items.transaction() as tx:
            await tx.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
            await tx.execute("INSERT INTO items (id, name) VALUES (2, 'a')")
    assert await names(items) == []
    # The store is usable afterwards.
    await items.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
    assert await names(items) == ["a"]


async def test_transaction_is_unusable_after_its_block(items: Store) -> None:
    async with items.transaction() as tx:
        pass
    with pytest.raises(RuntimeError):
        await tx.execute("INSERT INTO items (id, name) VALUES (1, 'a')")


async def test_other_tasks_stay_outside_a_transaction(items: Store) -> None:
    started = asyncio.Event()

    class Boom(Exception):
        pass

    async def rolled_back() -> None:
        async with items.transaction() as tx:
            await tx.execute("INSERT INTO items (id, name) VALUES (1, 'inside')")
            started.set()
            await asyncio.sleep(0.1)
            raise Boom

    async def outside() -> None:
        await started.wait()
        await items.execute("INSERT INTO items (id, name) VALUES (2, 'outside')")

    results = await asyncio.gather(rolled_back(), outside(), return_exceptions=True)
    assert isinstance(results[0], Boom)
    assert results[1] is None
    assert await names(items) == ["outside"]


async def test_concurrent_transactions_do_not_lose_updates(items: Store) -> None:
    await items.execute("INSERT INTO items (id, name, note) VALUES (1, 'counter', '0')")

    async def bump() -> None:
        async with items.transaction() as tx:
            # Lock the row first on PostgreSQL; SQLite's transactions already take turns.
            await tx.execute("UPDATE items SET name = name WHERE id = 1")
            row = await tx.fetchrow("SELECT note FROM items WHERE id = 1")
            assert row is not None
            await tx.execute("UPDATE items SET note = $1 WHERE id = 1", str(int(row["note"]) + 1))

    await asyncio.gather(*(bump() for _ in range(20)))
    assert await items.fetchrow("SELECT note FROM items WHERE id = 1") == {"note": "20"}


# Lifecycle


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_start_is_idempotent(store: Store) -> None:
    await store.start()
    await store.start()
    await store.ping()


async def test_close_is_idempotent_and_start_reopens(items: Store) -> None:
    await items.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
    await items.close()
    await items.close()
    calls: list[Callable[[], Awaitable[object]]] = [
        items.ping,
        lambda: items.fetch("SELECT 1"),
        lambda: items.execute("SELECT 1"),
    ]
    for call in calls:
        with pytest.raises(BackendError) as caught:
            await call()
        assert caught.value.details == {"backend": items.name}
    await items.start()
    assert await names(items) == ["a"]


# SQLite specifics


async def test_sqlite_in_memory() -> None:
    store = SqliteStore(":memory:")
    try:
        assert await store.migrate([ITEMS]) == ["001_items"]
        await store.execute("INSERT INTO items (id, name) VALUES (1, 'a')")
        assert await names(store) == ["a"]
    finally:
        await store.close()


async def test_sqlite_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a" / "b" / "db.sqlite3")
    try:
        assert await store.fetchrow("PRAGMA journal_mode") == {"journal_mode": "wal"}
        assert await store.fetchrow("PRAGMA foreign_keys") == {"foreign_keys": 1}
    finally:
        await store.close()
    assert (tmp_path / "a" / "b" / "db.sqlite3").exists()


async def test_sqlite_store_call_inside_its_transaction_fails_fast() -> None:
    store = SqliteStore(":memory:")
    try:
        async with store.transaction():
            # The store's lock is held by this very task: waiting would hang forever.
            with pytest.raises(RuntimeError, match="transaction object"):
                await store.execute("SELECT 1")
    finally:
        await store.close()
