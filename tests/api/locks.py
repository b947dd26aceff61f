"""Waiting for a statement to block on a row lock (PostgreSQL), to interleave two transactions
at the moment a test means."""

from __future__ import annotations

from sqlalchemy import text

from backend.core.database.manager import AsyncDatabaseManager
from tests.services.strategy.support import wait_for

_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    " AND datname = current_database()"
)


async def someone_waits_on_a_lock(database: AsyncDatabaseManager) -> bool:
    """Whether a session of the test's database is waiting for a lock now."""
    async with database.read_connection() as connection:
        return bool(await connection.scalar(_WAITING))


async def wait_until_blocked(database: AsyncDatabaseManager) -> None:
    """Until a session of the test's database waits for a lock (fails after 5 s)."""
    await wait_for(lambda: someone_waits_on_a_lock(database))
