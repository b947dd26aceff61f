"""Planner statistics kept fresh when the PostgreSQL server's autovacuum is off.

PostgreSQL plans a statement from its tables' statistics, which autovacuum refreshes as
they change (ANALYZE). With autovacuum off nothing does: a table created empty keeps the
statistics of an empty table, and a plan cached early (a prepared statement's generic plan:
the order path's statements run as prepared statements) stays a sequential scan while
the table grows, so each acknowledgement of a batch reads every order there is. Measured here
(autovacuum off, 20,000 orders placed after start-up, then 8 s POST runs): orders was read
in full some 300 times a run, PostgreSQL's CPU per order grew from 457 to 680 us and POST
fell from 1,523 to 1,214 req/s; with this, after its first analyze, 164-184 us and
1,951-2,019 req/s, no more full reads.

Then RedFire does what autovacuum's analyze would: every `interval` seconds (setting
`database.analyze_interval`, 0 turns it off) it analyzes
each of its tables changed by more than autovacuum's default threshold (50 rows plus a
tenth of the table) since its last analyze; an analyze also drops the plans cached on the
old statistics. One replica at a time (an advisory lock); nothing at all when autovacuum is
on, or on SQLite. Dead rows still want VACUUM, which only the server's autovacuum (or an
operator) runs: a warning at start says so.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.manager import AsyncDatabaseManager

logger = structlog.get_logger(__name__)

# pg_try_advisory_xact_lock's key: any constant no other lock of RedFire's uses.
ANALYZE_LOCK_KEY = 0x52_46_53_54  # "RFST"
# autovacuum_analyze_threshold + autovacuum_analyze_scale_factor * rows, at their defaults.
_STALE = text(
    "SELECT relname FROM pg_stat_user_tables"
    " WHERE schemaname = current_schema()"
    " AND n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0)"
    " ORDER BY relname"
)


class PlannerStatistics:
    """Analyzes RedFire's changed tables while the server's autovacuum is off (PostgreSQL)."""

    def __init__(self, database: AsyncDatabaseManager, *, interval: float):
        self.database = database
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start analyzing in the background, if this server needs it."""
        if not self.database.uses_asyncpg or not self.interval or self._task is not None:
            return
        if not await self._autovacuum_off():
            return
        logger.warning(
            "autovacuum_off",
            detail="RedFire analyzes its own tables; dead rows are not vacuumed: "
            "turn autovacuum on (or VACUUM regularly)",
        )
        self._task = asyncio.create_task(self._run(), name="planner-statistics")

    async def stop(self) -> None:
        """Stop analyzing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def analyze_stale(self) -> list[str]:
        """Analyze the tables changed enough since their last analyze; their names (none
        when another replica holds the turn)."""
        async with self.database.session() as session:
            if not await session.scalar(
                text(f"SELECT pg_try_advisory_xact_lock({ANALYZE_LOCK_KEY})")
            ):
                return []
            stale = list(await session.scalars(_STALE))
            for table in stale:
                await _analyze(session, table)
        return stale

    async def _autovacuum_off(self) -> bool:
        async with self.database.session() as session:
            setting = await session.scalar(text("SELECT current_setting('autovacuum')"))
        return bool(setting == "off")

    async def _run(self) -> None:
        while True:
            try:
                if analyzed := await self.analyze_stale():
                    logger.info("tables_analyzed", tables=analyzed)
            except Exception as exc:  # the database is away: next time
                logger.warning("table_analyze_failed", error=repr(exc))
            await asyncio.sleep(self.interval)


async def _analyze(session: AsyncSession, table: str) -> None:
    # The name comes from pg_stat_user_tables, quoted as an identifier all the same.
    quoted = session.get_bind().dialect.identifier_preparer.quote(table)
    await session.execute(text(f"ANALYZE {quoted}"))
