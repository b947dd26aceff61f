"""AsyncRepository and AsyncDatabaseService against the run's real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import String, bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from backend.core.config import AppConfig
from backend.core.database import AsyncDatabaseManager, AsyncRepository
from backend.core.database.base import MONEY
from backend.core.database.driver import DriverQuery, DriverStatement
from backend.core.database.raw_sql import AsyncDatabaseService


class ScratchBase(DeclarativeBase):
    """A model outside the application's metadata, created and dropped by these tests."""


class Instrument(ScratchBase):
    __tablename__ = "scratch_instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), unique=True)
    price_tick: Mapped[Decimal] = mapped_column(MONEY)


@pytest.fixture
async def database(make_config: Callable[..., AppConfig]) -> AsyncIterator[AsyncDatabaseManager]:
    manager = AsyncDatabaseManager(make_config().database)
    async with manager.engine.begin() as connection:
        await connection.run_sync(ScratchBase.metadata.create_all)
    yield manager
    async with manager.engine.begin() as connection:
        await connection.run_sync(ScratchBase.metadata.drop_all)
    await manager.dispose()


async def test_repository_crud_round_trip(database: AsyncDatabaseManager) -> None:
    async with database.session() as session:
        repository = AsyncRepository(session, Instrument)
        created = await repository.create(symbol="IF2412.CFFEX", price_tick=Decimal("0.2"))
        await repository.create(symbol="rb2501.SHFE", price_tick=Decimal(1))
        assert created.id is not None
    async with database.session() as session:
        repository = AsyncRepository(session, Instrument)
        found = await repository.get_by_id(created.id)
        assert found is not None
        assert found.price_tick == Decimal("0.2")
        assert await repository.count() == 2
        page = await repository.list(
            limit=1, offset=1, statement=select(Instrument).order_by(Instrument.id)
        )
        assert [row.symbol for row in page] == ["rb2501.SHFE"]
        await repository.update(found, price_tick=Decimal("0.00000001"))
    async with database.session() as session:
        repository = AsyncRepository(session, Instrument)
        found = await repository.get_by_id(created.id)
        assert found is not None
        assert found.price_tick == Decimal("0.00000001")
        await repository.delete(found)
    async with database.session() as session:
        assert await AsyncRepository(session, Instrument).get_by_id(created.id) is None


async def test_session_rolls_back_on_error(database: AsyncDatabaseManager) -> None:
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            repository = AsyncRepository(session, Instrument)
            await repository.create(symbol="DUP", price_tick=Decimal(1))
            await repository.create(symbol="DUP", price_tick=Decimal(1))
    async with database.session() as session:
        assert await AsyncRepository(session, Instrument).count() == 0


async def test_execute_query_binds_parameters_and_returns_dicts(
    database: AsyncDatabaseManager,
) -> None:
    service = AsyncDatabaseService(database)
    async with database.session() as session:
        await AsyncRepository(session, Instrument).create(symbol="A", price_tick=Decimal("0.5"))
    hostile = "A' OR '1'='1"
    assert (
        await service.execute_query(
            "SELECT symbol FROM scratch_instruments WHERE symbol = :symbol", {"symbol": hostile}
        )
        == []
    )
    rows = await service.execute_query(
        "SELECT symbol, price_tick FROM scratch_instruments WHERE symbol = :symbol",
        {"symbol": "A"},
    )
    # Raw SQL returns what the driver stores: NUMERIC on PostgreSQL, exact text on SQLite.
    assert [(row["symbol"], Decimal(str(row["price_tick"]))) for row in rows] == [
        ("A", Decimal("0.5"))
    ]


async def test_execute_transaction_is_all_or_nothing(database: AsyncDatabaseManager) -> None:
    service = AsyncDatabaseService(database)

    async def insert_one(session: AsyncSession) -> int:
        instrument = Instrument(symbol="ONE", price_tick=Decimal(1))
        session.add(instrument)
        await session.flush()
        return instrument.id

    async def fail(session: AsyncSession) -> None:
        raise RuntimeError("second step failed")

    with pytest.raises(RuntimeError):
        await service.execute_transaction([insert_one, fail])
    assert await service.execute_query("SELECT * FROM scratch_instruments") == []
    [new_id] = await service.execute_transaction([insert_one])
    rows = await service.execute_query("SELECT id FROM scratch_instruments")
    assert rows == [{"id": new_id}]


async def test_ping_measures_latency(database: AsyncDatabaseManager) -> None:
    latency = await database.ping()
    assert 0 < latency < database.config.health_timeout


async def test_sqlite_is_tuned_for_concurrency(tmp_path: object) -> None:
    from backend.core.config.settings import DatabaseConfig

    manager = AsyncDatabaseManager(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/t.db"))
    try:
        async with manager.engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
            keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    finally:
        await manager.dispose()
    assert (mode, busy, keys) == ("wal", 5000, 1)


async def _backend_pid(database: AsyncDatabaseManager) -> int:
    async with database.driver_connection() as driver:
        return int(await driver.fetchval("SELECT pg_backend_pid()"))


async def test_driver_connections_go_back_to_the_pool(database: AsyncDatabaseManager) -> None:
    if not database.uses_asyncpg:
        pytest.skip("the driver connection is asyncpg's: needs TEST_DATABASE_URL")
    pool = database.engine.sync_engine.pool
    first = await _backend_pid(database)
    # A statement the server refuses leaves the connection good: it is pooled again.
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with database.driver_connection() as driver:
            await driver.fetchval("SELECT 1 / 0")
    assert await _backend_pid(database) == first
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_driver_connection_that_died_is_not_pooled_again(
    database: AsyncDatabaseManager,
) -> None:
    if not database.uses_asyncpg:
        pytest.skip("the driver connection is asyncpg's: needs TEST_DATABASE_URL")
    first = await _backend_pid(database)
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        async with database.driver_connection() as driver:
            await driver.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    second = await _backend_pid(database)
    assert second != first  # a fresh connection, not the dead one


async def test_driver_statements_run_in_the_session_transaction(
    database: AsyncDatabaseManager,
) -> None:
    if not database.uses_asyncpg:
        pytest.skip("driver statements run on asyncpg: needs TEST_DATABASE_URL")
    table = Instrument.__table__
    # price_tick is bound when the statement is built; symbol is passed on each run.
    add = DriverStatement(
        insert(table)
        .values(symbol=bindparam("symbol"), price_tick=Decimal("0.2"))
        .returning(table.c.symbol, table.c.price_tick)
    )
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            assert await add.fetch(session, {"symbol": "rb2501.SHFE"}) == [
                {"symbol": "rb2501.SHFE", "price_tick": Decimal("0.20000000")}
            ]
            raise RuntimeError("abandon the transaction")
    async with database.session() as session:
        await add.fetch(session, {"symbol": "IF2412.CFFEX"})
    async with database.session() as session:
        stored = (await session.scalars(select(Instrument.symbol))).all()
    assert stored == ["IF2412.CFFEX"]  # the first insert went with its transaction
    # The server refusing a statement raises what SQLAlchemy would: a DBAPIError.
    with pytest.raises(DBAPIError):
        async with database.session() as session:
            await add.fetch(session, {"symbol": "IF2412.CFFEX"})
    async with database.session() as session:  # the pooled connection is fine afterwards
        await add.fetch(session, {"symbol": "ag2502.SHFE"})


async def test_sustained_load_beyond_the_pool_reuses_the_same_connections(
    database: AsyncDatabaseManager,
) -> None:
    """The default pool opens its connections once; it never churns through overflow ones."""
    if not database.uses_asyncpg:
        pytest.skip("counts PostgreSQL server processes: needs TEST_DATABASE_URL")
    size = database.config.pool_size
    waves: list[set[int]] = []
    for _ in range(3):  # three times as many concurrent reads as connections, three times
        pids = await asyncio.gather(*(_backend_pid(database) for _ in range(3 * size)))
        waves.append(set(pids))
    assert len(waves[0]) <= size
    assert waves[1] <= waves[0]
    assert waves[2] <= waves[0]  # no connection opened after the first wave


BACKEND_PID = DriverQuery(select(func.pg_backend_pid().label("pid")))


async def test_reads_reuse_a_few_connections_held_out_of_the_pool(
    database: AsyncDatabaseManager,
) -> None:
    """DriverQuery reads check nothing out per read: a few connections serve them all."""
    if not database.uses_asyncpg:
        pytest.skip("held connections are asyncpg's: needs TEST_DATABASE_URL")
    pool = database.engine.sync_engine.pool
    limit = max(1, database.config.pool_size // 4)
    pids: set[int] = set()
    for _ in range(3):
        rows = await asyncio.gather(*(BACKEND_PID.first(database, {}) for _ in range(40)))
        pids |= {row["pid"] for row in rows if row is not None}
    assert 1 <= len(pids) <= limit
    assert database.held.held == len(pids)
    assert pool.checkedout() == database.held.held  # type: ignore[attr-defined]
    await database.held.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_held_connection_that_died_is_replaced(database: AsyncDatabaseManager) -> None:
    if not database.uses_asyncpg:
        pytest.skip("held connections are asyncpg's: needs TEST_DATABASE_URL")
    first = await BACKEND_PID.first(database, {})
    assert first is not None
    async with database.driver_connection() as driver:
        assert await driver.fetchval("SELECT pg_terminate_backend($1)", first["pid"])
    # The read that meets the dead connection is repeated on a fresh one: no caller sees it.
    row = await BACKEND_PID.first(database, {})
    assert row is not None
    assert row["pid"] != first["pid"]
    assert database.held.held == 1


async def test_reads_cancelled_while_waiting_or_running_leak_no_connection(
    database: AsyncDatabaseManager,
) -> None:
    if not database.uses_asyncpg:
        pytest.skip("held connections are asyncpg's: needs TEST_DATABASE_URL")
    pool = database.engine.sync_engine.pool
    limit = max(1, database.config.pool_size // 4)
    reads = [asyncio.create_task(BACKEND_PID.first(database, {})) for _ in range(30)]
    done, pending = await asyncio.wait(reads, return_when=asyncio.FIRST_COMPLETED)
    for task in list(pending)[::2]:  # some wait for a connection, some have one
        task.cancel()
    await asyncio.gather(*reads, return_exceptions=True)
    assert done
    rows = await asyncio.gather(*(BACKEND_PID.first(database, {}) for _ in range(20)))
    assert all(row is not None for row in rows)
    assert database.held.held <= limit
    assert pool.checkedout() == database.held.held  # type: ignore[attr-defined]
