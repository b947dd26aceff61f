"""Engine factory: an asyncpg pool for PostgreSQL, a tuned SQLite file for the embedded default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from backend.core.config.settings import DatabaseConfig


def create_engine(config: DatabaseConfig) -> AsyncEngine:
    """Build the AsyncEngine that fits the configured URL."""
    if config.is_sqlite:
        return _sqlite_engine(config)
    return create_async_engine(
        config.url,
        echo=config.echo,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_timeout=config.pool_timeout,
        pool_pre_ping=config.pool_pre_ping,
        pool_recycle=config.pool_recycle,
        connect_args={"timeout": config.pool_timeout},
    )


def _sqlite_engine(config: DatabaseConfig) -> AsyncEngine:
    engine = create_async_engine(
        config.url,
        echo=config.echo,
        connect_args={"timeout": config.sqlite_busy_timeout_ms / 1000},
    )
    busy_timeout = config.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: two deferred transactions that both read and then
        # write would otherwise deadlock into SQLITE_BUSY instead of waiting.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
