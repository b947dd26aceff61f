"""Alembic environment: async engine, RedFire's metadata, batch mode on SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import backend.models  # noqa: F401  (registers every model on Base.metadata)
from backend.core.config import config_manager
from backend.core.config.settings import DatabaseConfig
from backend.core.database.base import Base
from backend.core.database.engine import create_engine
from backend.models.schema_scope import include_name

config = context.config
target_metadata = Base.metadata


def _database_config() -> DatabaseConfig:
    url = config.attributes.get("database_url")
    return DatabaseConfig(url=url) if url else config_manager.get_config().database


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        compare_type=True,
        compare_server_default=False,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Run migrations over an async connection."""
    engine = create_engine(_database_config())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    """Emit SQL without a database."""
    context.configure(
        url=_database_config().url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
