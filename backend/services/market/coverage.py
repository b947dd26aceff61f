"""Coverage: per symbol, the first and last stored bar, how many, and the gaps between.

A gap is a run of missing bars of the interval (missing minutes, for recorded bars) between
two stored ones: [start, end), `start` the first missing bar, `end` the next stored one.
Closed markets (nights, weekends) show as gaps too. At most `max_gaps` gaps are listed per
symbol, oldest first, and `gaps_truncated` says when there are more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select

from backend.core.database.manager import AsyncDatabaseManager
from backend.models.market import MarketBar
from backend.services.market.intervals import BarInterval
from backend.services.market.paging import FAR_FUTURE, FAR_PAST

BARS = cast(Table, MarketBar.__table__)
_GAPS_SQL = (
    "SELECT previous, datetime FROM ("
    " SELECT datetime, lag(datetime) OVER (ORDER BY datetime) AS previous FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4) AS bars"
    " WHERE datetime - previous > $5 ORDER BY datetime LIMIT $6"
)


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing bars [start, end): `missing` of them."""

    start: datetime
    end: datetime
    missing: int


@dataclass(slots=True)
class Coverage:
    """What is stored of one symbol at one interval."""

    symbol: str
    interval: str
    first: datetime
    last: datetime
    count: int
    gaps: list[Gap] = field(default_factory=list)
    gaps_truncated: bool = False


class CoverageReader:
    """Summaries and gaps of the stored bars."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database

    async def coverage(
        self,
        interval: BarInterval,
        *,
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_gaps: int = 100,
    ) -> list[Coverage]:
        """Every symbol's (or one symbol's) coverage in [start, end), ordered by symbol."""
        low, high = start or FAR_PAST, end or FAR_FUTURE
        query = (
            select(BARS.c.symbol, func.min(BARS.c.datetime), func.max(BARS.c.datetime),
                   func.count())
            .where(BARS.c.interval == interval.value, BARS.c.datetime >= low,
                   BARS.c.datetime < high)
            .group_by(BARS.c.symbol)
            .order_by(BARS.c.symbol)
        )  # fmt: skip
        if symbol is not None:
            query = query.where(BARS.c.symbol == symbol)
        async with self.database.read_connection() as connection:
            summaries = [
                Coverage(name, interval.value, _utc(first), _utc(last), count)
                for name, first, last, count in await connection.execute(query)
            ]
            if self.database.config.is_sqlite:
                for entry in summaries:
                    await _sqlite_gaps(connection, entry, interval, low, high, max_gaps)
        if not self.database.config.is_sqlite:
            async with self.database.driver_connection() as driver:
                for entry in summaries:
                    await _postgresql_gaps(driver, entry, interval, low, high, max_gaps)
        return summaries


async def _postgresql_gaps(
    driver: Any, entry: Coverage, interval: BarInterval, low: datetime, high: datetime, limit: int
) -> None:
    rows = await driver.fetch(
        _GAPS_SQL, entry.symbol, interval.value, low, high, interval.step, limit + 1
    )
    entry.gaps = [_gap(previous, moment, interval) for previous, moment in rows[:limit]]
    entry.gaps_truncated = len(rows) > limit


async def _sqlite_gaps(
    connection: Any,
    entry: Coverage,
    interval: BarInterval,
    low: datetime,
    high: datetime,
    limit: int,
) -> None:
    result = await connection.stream(
        select(BARS.c.datetime)
        .where(BARS.c.symbol == entry.symbol, BARS.c.interval == interval.value,
               BARS.c.datetime >= low, BARS.c.datetime < high)
        .order_by(BARS.c.datetime)
    )  # fmt: skip
    previous = None
    async for (value,) in result:
        moment = _utc(value)
        if previous is not None and moment - previous > interval.step:
            if len(entry.gaps) == limit:
                entry.gaps_truncated = True
                break
            entry.gaps.append(_gap(previous, moment, interval))
        previous = moment
    await result.close()


def _gap(previous: datetime, following: datetime, interval: BarInterval) -> Gap:
    start = previous + interval.step
    return Gap(start, following, (following - start) // interval.step)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
