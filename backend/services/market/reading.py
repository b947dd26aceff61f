"""BarReader: stored bars by symbol, interval and time range, aggregated and paged.

An interval is served from one stored interval, its base: the coarsest of those it can be
built from (1d: 1d, 1h, 1m; 1h: 1h, 1m; 5m and 15m: 1m) that has bars in the range, so
imported hourly or daily history is served as it was imported and recorded minutes are
aggregated. Aggregation follows the bars' OHLCV rules: open of the first bar, close and open
interest of the last, highest high, lowest low, summed volume and turnover; buckets are UTC
(intervals.py). PostgreSQL aggregates in SQL (date_bin) and, for the API, writes the JSON
itself; 1h and 1d bars of minutes are read from the hourly rollups (rollups.py: 24 rows a
day instead of 1,440), which hold the same aggregates. SQLite is read row by row and
aggregated in Python (sqlite_reading.py).

Paging: `start` is rounded down to the interval; bars starting in [start, end) are returned
oldest first, at most `limit`, with `next_start` (where the next page starts, past any gap)
while more follow. Without `start`, the page covers the `limit` intervals up to the newest
bar before `end`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from backend.core.database.manager import AsyncDatabaseManager
from backend.services.market.bar import Bar
from backend.services.market.intervals import BarInterval
from backend.services.market.numbers import DecimalTexts
from backend.services.market.paging import (
    FAR_PAST,
    VALUE_COLUMNS,
    BarPage,
    BarRequest,
    Plan,
    Row,
    page_json,
    plan,
    row_json,
)
from backend.services.market.sqlite_reading import page_sqlite

_ORIGIN = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
# Every SQL text below is assembled from the constants of this module; values are bound.
_TEXT = ", ".join(f"trim_scale({name})::text" for name in VALUE_COLUMNS)
_PLAIN_SQL = (
    f"SELECT datetime AS bucket, {_TEXT} FROM market_bars"  # noqa: S608
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
    " ORDER BY datetime LIMIT $5"
)


# One ordered array per bucket: open is its first row's, close and open interest its last's.
def _aggregated_sql(rows: str, limit: str, step: str) -> str:
    return (
        "SELECT bucket, trim_scale(firsts[1][1])::text, trim_scale(high)::text,"  # noqa: S608
        " trim_scale(low)::text, trim_scale(firsts[n][2])::text, trim_scale(volume)::text,"
        " trim_scale(turnover)::text, trim_scale(firsts[n][3])::text FROM ("
        f" SELECT date_bin({step}, datetime, {_ORIGIN}) AS bucket,"
        " array_agg(ARRAY[open, close, open_interest] ORDER BY datetime) AS firsts,"
        " count(*) AS n, max(high) AS high, min(low) AS low,"
        " sum(volume) AS volume, sum(turnover) AS turnover"
        f" FROM {rows}"
        f" GROUP BY bucket) AS buckets ORDER BY bucket LIMIT {limit}"
    )


_AGGREGATED_SQL = _aggregated_sql(
    "market_bars WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4",
    "$5",
    "$6",
)
# 1h and 1d bars of minutes: from the hourly rollups (rollups.py). $1 symbol, [$2, $3), $4
# the page size + 1, $5 the interval.
_HOURS = "market_bar_hours WHERE symbol = $1 AND datetime >= $2 AND datetime < $3"
_HOURS_SQL = f"SELECT datetime AS bucket, {_TEXT} FROM {_HOURS} ORDER BY datetime LIMIT $4"  # noqa: S608
_FROM_HOURS_SQL = _aggregated_sql(_HOURS, "$4", "$5")
_JSON_BAR = (
    """'{"datetime":"' || to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    + "".join(f""" || '","{name}":"' || {name}""" for name in VALUE_COLUMNS)
    + """ || '"}'"""
)


def _json_sql(page_sql: str, limit: str = "$5") -> str:
    # The page as the API's JSON array elements, written by PostgreSQL, and the start of the
    # row asked for past the page (`limit` is the page size + 1), if there is one.
    columns = ", ".join(VALUE_COLUMNS)
    return (
        f"SELECT coalesce(string_agg({_JSON_BAR}, ',' ORDER BY bucket)"  # noqa: S608
        f" FILTER (WHERE n < {limit}), ''),"
        f" max(bucket) FILTER (WHERE n >= {limit})"
        f" FROM (SELECT *, row_number() OVER (ORDER BY bucket) AS n"
        f" FROM ({page_sql}) AS p (bucket, {columns})) AS page"
    )


_PLAIN_JSON_SQL = _json_sql(_PLAIN_SQL)
_AGGREGATED_JSON_SQL = _json_sql(_AGGREGATED_SQL)
_HOURS_JSON_SQL = _json_sql(_HOURS_SQL, "$4")
_FROM_HOURS_JSON_SQL = _json_sql(_FROM_HOURS_SQL, "$4")
_EXISTS_SQL = (
    "SELECT EXISTS (SELECT 1 FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4)"
)
_FIRST_SQL = (
    "SELECT min(datetime) FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
)
_LAST_SQL = (
    "SELECT max(datetime) FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
)
_COUNT_PLAIN_SQL = (
    "SELECT count(*) FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
)
_COUNT_HOURS_SQL = f"SELECT count(*) FROM {_HOURS}"  # noqa: S608
_COUNT_FROM_HOURS_SQL = f"SELECT count(DISTINCT date_bin($4, datetime, {_ORIGIN})) FROM {_HOURS}"  # noqa: S608
_COUNT_AGGREGATED_SQL = (
    f"SELECT count(DISTINCT date_bin($5, datetime, {_ORIGIN})) FROM market_bars"  # noqa: S608
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
)


class BarReader:
    """Reads bars for the API, backtests and strategy warm-up."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database
        self.on_postgresql = not database.config.is_sqlite

    async def page(self, request: BarRequest) -> BarPage:
        """One page of bars."""
        if not self.on_postgresql:
            async with self.database.read_connection() as connection:
                return await page_sqlite(connection, request)
        async with self.database.driver_connection() as driver:
            plan = await _plan_pg(driver, request)
            if plan is None:
                return BarPage([], None)
            sql, *args = _page_args(plan, request)
            found = await driver.fetch(sql, *args)
            rows: list[Row] = [tuple(row) for row in found]
            following = rows.pop()[0] if len(rows) > request.limit else None
            if following is None:
                following = await _next_pg(driver, plan, request)
        return BarPage(rows, following)

    async def page_json(self, request: BarRequest) -> bytes:
        """One page as the API's JSON body (written by PostgreSQL there)."""
        if not self.on_postgresql:
            page = await self.page(request)
            return page_json(request, ",".join(map(row_json, page.rows)), page.next_start)
        async with self.database.driver_connection() as driver:
            plan = await _plan_pg(driver, request)
            if plan is None:
                return page_json(request, "", None)
            sql, *args = _page_args(plan, request, json=True)
            bars, following = await driver.fetchrow(sql, *args)
            if following is None:
                following = await _next_pg(driver, plan, request)
        return page_json(request, bars, following)

    async def row_chunks(
        self, symbol: str, interval: BarInterval, start: datetime, end: datetime, size: int
    ) -> AsyncIterator[list[Row]]:
        """Every bar in [start, end) as text rows, oldest first, `size` at a time (one query
        per chunk, each continuing where the last stopped: no cursor held open)."""
        cursor: datetime | None = start
        while cursor is not None:
            page = await self.page(BarRequest(symbol, interval, cursor, end, size))
            if page.rows:
                yield page.rows
            cursor = page.next_start

    async def chunks(
        self, symbol: str, interval: BarInterval, start: datetime, end: datetime, size: int
    ) -> AsyncIterator[list[Bar]]:
        """Every bar in [start, end) as Bars (exact Decimals), oldest first, `size` at a time."""
        texts = DecimalTexts()
        async for rows in self.row_chunks(symbol, interval, start, end, size):
            yield [_bar(symbol, interval, row, texts) for row in rows]

    async def count(
        self, symbol: str, interval: BarInterval, start: datetime, end: datetime
    ) -> int:
        """How many bars [start, end) holds."""
        if not self.on_postgresql:
            total = 0
            async for chunk in self.chunks(symbol, interval, start, end, 50_000):
                total += len(chunk)
            return total
        request = BarRequest(symbol, interval, start, end, 1)
        async with self.database.driver_connection() as driver:
            plan = await _plan_pg(driver, request)
            if plan is None:
                return 0
            if _from_hours(plan, interval):
                hours: list[Any] = [symbol, plan.low, plan.until]
                if interval is BarInterval.HOUR:
                    return int(await driver.fetchval(_COUNT_HOURS_SQL, *hours))
                return int(await driver.fetchval(_COUNT_FROM_HOURS_SQL, *hours, interval.step))
            args: list[Any] = [symbol, plan.base.value, plan.low, plan.until]
            if plan.base is interval:
                return int(await driver.fetchval(_COUNT_PLAIN_SQL, *args))
            return int(await driver.fetchval(_COUNT_AGGREGATED_SQL, *args, interval.step))


def _bar(symbol: str, interval: BarInterval, row: Row, texts: DecimalTexts) -> Bar:
    open_, high, low, close, volume, turnover, interest = (texts.get(text)[0] for text in row[1:])
    return Bar(symbol, interval.value, row[0], open_, high, low, close, volume, turnover, interest)


# PostgreSQL


async def _plan_pg(driver: Any, request: BarRequest) -> Plan | None:
    async def exists(base: BarInterval, low: datetime, high: datetime) -> bool:
        return bool(await driver.fetchval(_EXISTS_SQL, request.symbol, base.value, low, high))

    async def newest(base: BarInterval, high: datetime) -> datetime | None:
        found: datetime | None = await driver.fetchval(
            _LAST_SQL, request.symbol, base.value, FAR_PAST, high
        )
        return found

    return await plan(request, exists, newest)


def _from_hours(plan: Plan, interval: BarInterval) -> bool:
    """1h and 1d bars of minutes are read from the hourly rollups."""
    return plan.base is BarInterval.MINUTE and interval in (BarInterval.HOUR, BarInterval.DAY)


def _page_args(plan: Plan, request: BarRequest, *, json: bool = False) -> list[Any]:
    if _from_hours(plan, request.interval):
        hours: list[Any] = [request.symbol, plan.low, plan.high, request.limit + 1]
        if request.interval is BarInterval.HOUR:
            return [_HOURS_JSON_SQL if json else _HOURS_SQL, *hours]
        return [_FROM_HOURS_JSON_SQL if json else _FROM_HOURS_SQL, *hours, request.interval.step]
    args: list[Any] = [request.symbol, plan.base.value, plan.low, plan.high, request.limit + 1]
    if plan.base is request.interval:
        return [_PLAIN_JSON_SQL if json else _PLAIN_SQL, *args]
    return [_AGGREGATED_JSON_SQL if json else _AGGREGATED_SQL, *args, request.interval.step]


async def _next_pg(driver: Any, plan: Plan, request: BarRequest) -> datetime | None:
    """Where the next page of an aggregated request starts: the first row past this page's."""
    if plan.high >= plan.until:
        return None
    first = await driver.fetchval(
        _FIRST_SQL, request.symbol, plan.base.value, plan.high, plan.until
    )
    return None if first is None else request.interval.floor(first)
