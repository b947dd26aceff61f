"""BarReader: stored bars by symbol, interval and time range, aggregated and paged.

An interval is served from one stored interval, its base: the coarsest of those it can be
built from (1d: 1d, 1h, 1m; 1h: 1h, 1m; 5m and 15m: 1m) that has bars in the range, so
imported hourly or daily history is served as it was imported and recorded minutes are
aggregated. Aggregation follows the bars' OHLCV rules: open of the first bar, close and open
interest of the last, highest high, lowest low, summed volume and turnover; buckets are UTC
(intervals.py). PostgreSQL aggregates in SQL (date_bin) and, for the API, writes the JSON
itself; SQLite is read row by row and aggregated here.

Paging: `start` is rounded down to the interval; bars starting in [start, end) are returned
oldest first, at most `limit`, with `next_start` (where the next page starts, past any gap)
while more follow. Without `start`, the page covers the `limit` intervals up to the newest
bar before `end`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, String, Table, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.core.database.manager import AsyncDatabaseManager
from backend.models.market import MarketBar
from backend.services.market.bar import Bar
from backend.services.market.intervals import BarInterval
from backend.services.market.numbers import DecimalTexts, plain_text

FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 30, tzinfo=UTC)
VALUE_COLUMNS = ("open", "high", "low", "close", "volume", "turnover", "open_interest")
# (bucket start, open, high, low, close, volume, turnover, open_interest as plain text)
Row = tuple[datetime, str, str, str, str, str, str, str]

_ORIGIN = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
# Every SQL text below is assembled from the constants of this module; values are bound.
_TEXT = ", ".join(f"trim_scale({name})::text" for name in VALUE_COLUMNS)
_PLAIN_SQL = (
    f"SELECT datetime AS bucket, {_TEXT} FROM market_bars"  # noqa: S608
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
    " ORDER BY datetime LIMIT $5"
)
# One ordered array per bucket: open is its first row's, close and open interest its last's.
_AGGREGATED_SQL = (
    "SELECT bucket, trim_scale(firsts[1][1])::text, trim_scale(high)::text,"  # noqa: S608
    " trim_scale(low)::text, trim_scale(firsts[n][2])::text, trim_scale(volume)::text,"
    " trim_scale(turnover)::text, trim_scale(firsts[n][3])::text FROM ("
    f" SELECT date_bin($6, datetime, {_ORIGIN}) AS bucket,"
    " array_agg(ARRAY[open, close, open_interest] ORDER BY datetime) AS firsts,"
    " count(*) AS n, max(high) AS high, min(low) AS low,"
    " sum(volume) AS volume, sum(turnover) AS turnover"
    " FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
    " GROUP BY bucket) AS buckets ORDER BY bucket LIMIT $5"
)
_JSON_BAR = (
    """'{"datetime":"' || to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
    + "".join(f""" || '","{name}":"' || {name}""" for name in VALUE_COLUMNS)
    + """ || '"}'"""
)


def _json_sql(page_sql: str) -> str:
    # The page as the API's JSON array elements, written by PostgreSQL, and the start of the
    # row asked for past the page ($5 is the page size + 1), if there is one.
    columns = ", ".join(VALUE_COLUMNS)
    return (
        f"SELECT coalesce(string_agg({_JSON_BAR}, ',' ORDER BY bucket) FILTER (WHERE n < $5), ''),"  # noqa: S608
        " max(bucket) FILTER (WHERE n >= $5)"
        f" FROM (SELECT *, row_number() OVER (ORDER BY bucket) AS n"
        f" FROM ({page_sql}) AS p (bucket, {columns})) AS page"
    )


_PLAIN_JSON_SQL = _json_sql(_PLAIN_SQL)
_AGGREGATED_JSON_SQL = _json_sql(_AGGREGATED_SQL)
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
_COUNT_AGGREGATED_SQL = (
    f"SELECT count(DISTINCT date_bin($5, datetime, {_ORIGIN})) FROM market_bars"  # noqa: S608
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3 AND datetime < $4"
)


@dataclass(frozen=True, slots=True)
class BarRequest:
    """Which bars: a symbol, an interval, a time range (either end open) and a page size."""

    symbol: str
    interval: BarInterval
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class _Plan:
    """A page as stored rows: their interval and datetime range [low, high); the request's
    rows end at `until` (beyond `high` when an aggregated page stops short of it)."""

    base: BarInterval
    low: datetime
    high: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class BarPage:
    """Bars oldest first, as plain decimal texts, and where the next page starts (or None)."""

    rows: list[Row]
    next_start: datetime | None


# Whether stored bars of an interval exist in [low, high); the newest before `high`.
Exists = Callable[[BarInterval, datetime, datetime], Awaitable[bool]]
Newest = Callable[[BarInterval, datetime], Awaitable[datetime | None]]


def utc_text(moment: datetime) -> str:
    """A bar's datetime as the API writes it: `2024-01-02T09:30:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_json(row: Row) -> str:
    """One bar as a JSON object (the same text PostgreSQL writes)."""
    values = "".join(
        f',"{name}":"{value}"' for name, value in zip(VALUE_COLUMNS, row[1:], strict=True)
    )
    return f'{{"datetime":"{utc_text(row[0])}"{values}}}'


def page_json(request: BarRequest, bars_json: str, next_start: datetime | None) -> bytes:
    """The API's answer: {symbol, interval, bars, next_start}."""
    following = "null" if next_start is None else f'"{utc_text(next_start)}"'
    symbol = json.dumps(request.symbol)
    return (
        f'{{"symbol":{symbol},"interval":"{request.interval.value}",'
        f'"bars":[{bars_json}],"next_start":{following}}}'
    ).encode()


class BarReader:
    """Reads bars for the API, backtests and strategy warm-up."""

    def __init__(self, database: AsyncDatabaseManager) -> None:
        self.database = database
        self.on_postgresql = not database.config.is_sqlite

    async def page(self, request: BarRequest) -> BarPage:
        """One page of bars."""
        if not self.on_postgresql:
            async with self.database.read_connection() as connection:
                return await _page_sqlite(connection, request)
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
            args: list[Any] = [symbol, plan.base.value, plan.low, plan.until]
            if plan.base is interval:
                return int(await driver.fetchval(_COUNT_PLAIN_SQL, *args))
            return int(await driver.fetchval(_COUNT_AGGREGATED_SQL, *args, interval.step))


async def _plan(request: BarRequest, exists: Exists, newest: Newest) -> _Plan | None:
    """Choose the base interval and the stored rows' range of one page (None: no bars)."""
    interval = request.interval
    end = request.end or FAR_FUTURE
    start = request.start
    bases = interval.bases
    base = bases[-1]
    if start is None:
        for candidate in bases:
            last = await newest(candidate, _rows_end(candidate, interval, end))
            if last is not None:
                base = candidate
                start = interval.floor(last) - interval.step * (request.limit - 1)
                break
        else:
            return None
    low = interval.floor(start)
    if len(bases) > 1 and request.start is not None:
        for candidate in bases:
            if await exists(candidate, low, _rows_end(candidate, interval, end)):
                base = candidate
                break
        else:
            return None
    until = _rows_end(base, interval, end)
    if base is interval:
        return _Plan(base, low, until, until)
    # An aggregated page reads at most `limit` intervals of stored rows.
    return _Plan(base, low, min(until, low + interval.step * request.limit), until)


def _rows_end(base: BarInterval, interval: BarInterval, end: datetime) -> datetime:
    # Stored rows up to here make the bars that start before `end`, each of them whole.
    return end if base is interval else min(interval.ceil(end), FAR_FUTURE)


def _bar(symbol: str, interval: BarInterval, row: Row, texts: DecimalTexts) -> Bar:
    open_, high, low, close, volume, turnover, interest = (texts.get(text)[0] for text in row[1:])
    return Bar(symbol, interval.value, row[0], open_, high, low, close, volume, turnover, interest)


# PostgreSQL


async def _plan_pg(driver: Any, request: BarRequest) -> _Plan | None:
    async def exists(base: BarInterval, low: datetime, high: datetime) -> bool:
        return bool(await driver.fetchval(_EXISTS_SQL, request.symbol, base.value, low, high))

    async def newest(base: BarInterval, high: datetime) -> datetime | None:
        found: datetime | None = await driver.fetchval(
            _LAST_SQL, request.symbol, base.value, FAR_PAST, high
        )
        return found

    return await _plan(request, exists, newest)


def _page_args(plan: _Plan, request: BarRequest, *, json: bool = False) -> list[Any]:
    args: list[Any] = [request.symbol, plan.base.value, plan.low, plan.high, request.limit + 1]
    if plan.base is request.interval:
        return [_PLAIN_JSON_SQL if json else _PLAIN_SQL, *args]
    return [_AGGREGATED_JSON_SQL if json else _AGGREGATED_SQL, *args, request.interval.step]


async def _next_pg(driver: Any, plan: _Plan, request: BarRequest) -> datetime | None:
    """Where the next page of an aggregated request starts: the first row past this page's."""
    if plan.high >= plan.until:
        return None
    first = await driver.fetchval(
        _FIRST_SQL, request.symbol, plan.base.value, plan.high, plan.until
    )
    return None if first is None else request.interval.floor(first)


# SQLite


async def _page_sqlite(connection: AsyncConnection, request: BarRequest) -> BarPage:
    table = cast(Table, MarketBar.__table__)
    symbol = request.symbol

    def rows_between(base: BarInterval, low: datetime, high: datetime) -> Select[Any]:
        values = (type_coerce(table.c[name], String) for name in VALUE_COLUMNS)
        return (
            select(table.c.datetime, *values)
            .where(
                table.c.symbol == symbol,
                table.c.interval == base.value,
                table.c.datetime >= low,
                table.c.datetime < high,
            )
            .order_by(table.c.datetime)
        )

    async def exists(base: BarInterval, low: datetime, high: datetime) -> bool:
        found = await connection.execute(rows_between(base, low, high).limit(1))
        return found.first() is not None

    async def newest(base: BarInterval, high: datetime) -> datetime | None:
        last = await connection.scalar(
            select(func.max(table.c.datetime)).where(
                table.c.symbol == symbol, table.c.interval == base.value, table.c.datetime < high
            )
        )
        return None if last is None else _utc(last)

    plan = await _plan(request, exists, newest)
    if plan is None:
        return BarPage([], None)
    interval, limit = request.interval, request.limit
    query = rows_between(plan.base, plan.low, plan.high)
    if plan.base is interval:
        rows = [_plain_row(row) for row in await connection.execute(query.limit(limit + 1))]
        return BarPage(rows, rows.pop()[0] if len(rows) > limit else None)
    buckets = _aggregate(interval, (_plain_row(row) for row in await connection.execute(query)))
    following = None
    if plan.high < plan.until:
        first = (
            await connection.execute(rows_between(plan.base, plan.high, plan.until).limit(1))
        ).first()
        following = None if first is None else interval.floor(_utc(first[0]))
    return BarPage(buckets, following)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _plain_row(row: Any) -> Row:
    return (_utc(row[0]), *(plain_text(text) for text in row[1:]))  # type: ignore[return-value]


def _aggregate(interval: BarInterval, rows: Iterable[Row]) -> list[Row]:
    """Minutes (hours) into buckets: first open, max high, min low, last close, summed volume
    and turnover, last open interest."""
    buckets: list[Row] = []
    current: list[Any] = []
    for row in rows:
        bucket = interval.floor(row[0])
        values = [Decimal(text) for text in row[1:]]
        if not current or current[0] != bucket:
            if current:
                buckets.append(_bucket_row(current))
            current = [bucket, *values]
            continue
        current[2] = max(current[2], values[1])
        current[3] = min(current[3], values[2])
        current[4] = values[3]
        current[5] += values[4]
        current[6] += values[5]
        current[7] = values[6]
    if current:
        buckets.append(_bucket_row(current))
    return buckets


def _bucket_row(values: list[Any]) -> Row:
    texts = (plain_text(format(value, "f")) for value in values[1:])
    return (values[0], *texts)
