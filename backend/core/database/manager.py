"""AsyncDatabaseManager: owns the engine and hands out sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool

from backend.core.config.settings import DatabaseConfig
from backend.core.database.engine import create_engine
from backend.core.monitoring.metrics import DB_POOL_CONNECTIONS


class AsyncDatabaseManager:
    """Engine, session factory, health probe and pool statistics."""

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.engine: AsyncEngine = create_engine(config)
        self.session_factory = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False, autoflush=False
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
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one read-only statement: no ORM session, nothing committed.

        Meant for DriverQuery, which on PostgreSQL sends its SELECT alone: no BEGIN, no
        ROLLBACK (SQLAlchemy starts a transaction only when it executes a statement itself).
        """
        async with self.engine.connect() as connection:
            yield connection

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
        await self.engine.dispose()
