"""Monthly partitions of market_bars and market_ticks on PostgreSQL (SQLite has none).

A month's partition is `<table>_pYYYYMM`, holding [the 1st 00:00 UTC, the next 1st). It is
created as a plain table and then attached: ATTACH PARTITION takes only a SHARE UPDATE
EXCLUSIVE lock on the parent, so reads and writes of other months go on meanwhile (CREATE
TABLE ... PARTITION OF would lock them out). Creations are serialized across replicas by an
advisory lock and repeat nothing that exists. Retention drops whole months.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.core.database.manager import AsyncDatabaseManager

logger = structlog.get_logger(__name__)

TABLES = ("market_bars", "market_ticks")
# pg_advisory_xact_lock key: "redfire market partitions".
_LOCK_KEY = 0x52464D50
_NAME = re.compile(r"^(?P<table>market_bars|market_ticks)_p(?P<year>\d{4})(?P<month>\d{2})$")
_LOCK_TIMEOUT = "5s"


def month_of(moment: datetime) -> date:
    """The first day of `moment`'s month (UTC)."""
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    """`market_bars_p202401`."""
    return f"{table}_p{month.year:04d}{month.month:02d}"


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


class Partitions:
    """Knows which months exist and creates missing ones; a no-op on SQLite."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database
        self.enabled = not database.config.is_sqlite
        self._known: dict[str, set[date]] = {table: set() for table in TABLES}

    async def ensure(self, table: str, months: Iterable[date]) -> None:
        """Make sure each month of `table` has its partition (before writing into it)."""
        if not self.enabled:
            return
        missing = set(months) - self._known[table]
        if not missing:
            return
        async with self.database.engine.begin() as connection:
            await connection.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            existing = await self._existing(connection, table)
            for month in sorted(missing - existing):
                await self._create(connection, table, month)
                logger.info("market_partition_created", table=table, month=month.isoformat())
        self._known[table] = existing | missing

    async def ensure_ahead(self, now: datetime, months_ahead: int) -> None:
        """This month's partitions and the next `months_ahead` months', for every table."""
        months = [month_of(now)]
        for _ in range(months_ahead):
            months.append(next_month(months[-1]))
        for table in TABLES:
            await self.ensure(table, months)

    async def drop_before(self, table: str, cutoff: datetime) -> list[str]:
        """Drop the partitions of `table` that end at or before `cutoff`; their names."""
        if not self.enabled:
            return []
        dropped = []
        async with self.database.engine.begin() as connection:
            await connection.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            for month in sorted(await self._existing(connection, table)):
                end = next_month(month)
                if datetime(end.year, end.month, 1, tzinfo=UTC) > cutoff:
                    break
                name = partition_name(table, month)
                await connection.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
                dropped.append(name)
        self._known[table] = set()  # read again when next needed
        return dropped

    async def _existing(self, connection: AsyncConnection, table: str) -> set[date]:
        rows = await connection.execute(
            text(
                "SELECT child.relname FROM pg_inherits"
                " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
                " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
                " WHERE parent.relname = :table"
            ),
            {"table": table},
        )
        months = set()
        for (name,) in rows:
            match = _NAME.match(name)
            if match and match["table"] == table:
                months.add(date(int(match["year"]), int(match["month"]), 1))
        return months

    async def _create(self, connection: AsyncConnection, table: str, month: date) -> None:
        # Names and bounds come from dates computed here, never from input.
        name = partition_name(table, month)
        await connection.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{name}"'
                f' (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'
            )
        )
        await connection.execute(
            text(
                f'ALTER TABLE "{table}" ATTACH PARTITION "{name}"'
                f" FOR VALUES FROM ({_bound(month)}) TO ({_bound(next_month(month))})"
            )
        )
