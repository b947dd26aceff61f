"""Planner statistics kept by RedFire while the server's autovacuum is off (PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from backend.app.container import AppContainer
from backend.core.database.statistics import ANALYZE_LOCK_KEY, PlannerStatistics


@pytest.fixture
async def probe(container: AppContainer) -> AsyncIterator[str]:
    """A table of this test's with 2,000 rows changed since it was created (never analyzed)."""
    if not container.database.uses_asyncpg:
        pytest.skip("planner statistics are PostgreSQL's: needs TEST_DATABASE_URL")
    table = f"planner_probe_{uuid.uuid4().hex[:8]}"
    async with container.database.session() as session:
        await session.execute(text(f"CREATE TABLE {table} (id integer PRIMARY KEY)"))
        await session.execute(text(f"INSERT INTO {table} SELECT generate_series(1, 2000)"))
        await session.execute(text("SELECT pg_stat_force_next_flush()"))  # counted at commit
    yield table
    async with container.database.session() as session:
        await session.execute(text(f"DROP TABLE {table}"))


async def _analyzed(container: AppContainer, table: str) -> int:
    async with container.database.session() as session:
        count = await session.scalar(
            text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": table},
        )
    return int(count or 0)


async def test_a_changed_table_is_analyzed_once(container: AppContainer, probe: str) -> None:
    keeper = PlannerStatistics(container.database, interval=10.0)
    assert probe in await keeper.analyze_stale()
    assert await _analyzed(container, probe) == 1
    assert probe not in await keeper.analyze_stale()  # nothing changed since


async def test_one_replica_analyzes_at_a_time(container: AppContainer, probe: str) -> None:
    keeper = PlannerStatistics(container.database, interval=10.0)
    async with container.database.session() as other:  # another replica's turn
        await other.execute(text(f"SELECT pg_advisory_xact_lock({ANALYZE_LOCK_KEY})"))
        assert await keeper.analyze_stale() == []
    assert await _analyzed(container, probe) == 0
    assert probe in await keeper.analyze_stale()
