"""The migrations build exactly the models' schema, and tear it down again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import backend.models  # noqa: F401  (registers every model)
from backend.core.config.settings import DatabaseConfig
from backend.core.database.base import Base
from backend.core.database.engine import create_engine
from backend.core.database.manager import AsyncDatabaseManager
from backend.core.database.migrations import downgrade, upgrade
from backend.models.schema_scope import include_name
from backend.services.market.partitions import Partitions
from tests.conftest import TEST_DATABASE_URL, create_database, drop_database


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A brand-new database on this run's backend."""
    if TEST_DATABASE_URL is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"redfire_migrations_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    try:
        yield url
    finally:
        drop_database(name)


def _differences(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "target_metadata": Base.metadata, "include_name": include_name}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[Any], set[str]]:
    engine = create_engine(DatabaseConfig(url=url))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(_tables)
    finally:
        await engine.dispose()
    return differences, tables


async def _partition_market_history(url: str) -> None:
    """Monthly partitions, as recording and imports create them (PostgreSQL)."""
    database = AsyncDatabaseManager(DatabaseConfig(url=url))
    try:
        await Partitions(database).ensure_ahead(datetime(2024, 1, 15, tzinfo=UTC), 1)
    finally:
        await database.dispose()


def test_upgrade_matches_models_and_downgrade_removes_everything(empty_database: str) -> None:
    upgrade(empty_database)
    asyncio.run(_partition_market_history(empty_database))
    differences, tables = asyncio.run(_inspect(empty_database))
    assert differences == []
    assert set(Base.metadata.tables) <= tables
    assert "users" in tables

    downgrade(empty_database, "base")
    _, remaining = asyncio.run(_inspect(empty_database))
    assert remaining == {"alembic_version"}
