"""AsyncDatabaseManager: owns the engine and hands out sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

from backend.core.config.settings import DatabaseConfig
from backend.core.database.engine import create_engine
from backend.core.database.held import HeldConnections
from backend.core.database.unit_of_work import UnitOfWork
from backend.core.monitoring.metrics import DB_POOL_CONNECTIONS


class AsyncDatabaseManager:
    """Engine, session factory, health probe and pool statistics."""

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.engine: AsyncEngine = create_engine(config)
        self.uses_asyncpg = self.engine.dialect.driver == "asyncpg"
        self.session_factory = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False, autoflush=False
        )
        # A quarter of the pool at most serves DriverQuery reads, kept checked out (held.py).
        recycle = config.pool_recycle if config.pool_recycle > 0 else float("inf")
        self.held = HeldConnections(
            self.engine, limit=max(1, config.pool_size // 4), recycle=recycle
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self.session_factory() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A session that commits on success, then runs its after-commit actions; on error it
        rolls back and drops them."""
        async with self.session_factory() as session:
            work = UnitOfWork(session)
            try:
                yield work
            except BaseException:
                await work.rollback()
                raise
            await work.commit()

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one read-only statement: no ORM session, nothing committed."""
        async with self.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """asyncpg's own connection, checked out of the pool (PostgreSQL only).

        For DriverQuery: no SQLAlchemy Connection is built around it, which is a third of
        the CPU of a one-row read, and no transaction is begun. A connection that failed
        other than by the server refusing a statement is invalidated, not pooled again.
        """
        assert self.uses_asyncpg, "driver_connection() needs PostgreSQL (asyncpg)"
        pooled = await self.engine.raw_connection()
        driver: asyncpg.Connection = pooled.driver_connection
        try:
            yield driver
        except Exception as exc:
            if not isinstance(exc, asyncpg.PostgresError) or driver.is_closed():
                pooled.invalidate(exc)
            raise
        finally:
            # In a greenlet: checking in may close an overflow connection, which awaits.
            await greenlet_spawn(pooled.close)

    async def ping(self) -> float:
        """Run `SELECT 1` within the health timeout; return the latency in seconds or raise."""
        started = time.perf_counter()
        async with asyncio.timeout(self.config.health_timeout):
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return time.perf_counter() - started

    def record_pool_metrics(self) -> None:
        """Publish the pool's connection counts."""
        pool = self.engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            DB_POOL_CONNECTIONS.labels(state="checked_out").set(pool.checkedout())
            DB_POOL_CONNECTIONS.labels(state="idle").set(pool.checkedin())
            DB_POOL_CONNECTIONS.labels(state="overflow").set(max(pool.overflow(), 0))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.held.close()
        await self.engine.dispose()
