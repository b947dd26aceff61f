"""How bars are asked for and paged, on either database (see reading.py for the rules).

A request names a symbol, an interval, a time range and a page size; `plan` turns it into the
stored rows to read: which stored interval (the base) and which datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.services.market.intervals import BarInterval

FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 30, tzinfo=UTC)
VALUE_COLUMNS = ("open", "high", "low", "close", "volume", "turnover", "open_interest")
# (bucket start, open, high, low, close, volume, turnover, open_interest as plain text)
Row = tuple[datetime, str, str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class BarRequest:
    """Which bars: a symbol, an interval, a time range (either end open) and a page size."""

    symbol: str
    interval: BarInterval
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class Plan:
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


async def plan(request: BarRequest, exists: Exists, newest: Newest) -> Plan | None:
    """Choose the base interval and the stored rows' range of one page (None: no bars)."""
    interval = request.interval
    end = request.end or FAR_FUTURE
    start = request.start
    bases = interval.bases
    base = bases[-1]
    if start is None:
        for candidate in bases:
            last = await newest(candidate, rows_end(candidate, interval, end))
            if last is not None:
                base = candidate
                start = interval.floor(last) - interval.step * (request.limit - 1)
                break
        else:
            return None
    low = interval.floor(start)
    if len(bases) > 1 and request.start is not None:
        for candidate in bases:
            if await exists(candidate, low, rows_end(candidate, interval, end)):
                base = candidate
                break
        else:
            return None
    until = rows_end(base, interval, end)
    if base is interval:
        return Plan(base, low, until, until)
    # An aggregated page reads at most `limit` intervals of stored rows.
    return Plan(base, low, min(until, low + interval.step * request.limit), until)


def rows_end(base: BarInterval, interval: BarInterval, end: datetime) -> datetime:
    # Stored rows up to here make the bars that start before `end`, each of them whole.
    return end if base is interval else min(interval.ceil(end), FAR_FUTURE)
