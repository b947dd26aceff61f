"""Hourly rollups of the one-minute bars (PostgreSQL): market_bar_hours, kept on every write.

A year of minutes is 525,600 rows; its 1h bars are 8,760. Every write of 1m bars (an import,
a recording flush) recomputes, in its own transaction and after its minutes are written, the
rollup of each hour it touched from the minutes stored then, so a rollup is always the
aggregate of its hour's stored minutes by the OHLCV rules (open of the first, close and open
interest of the last, highest high, lowest low, summed volume and turnover): reading 1h and
1d bars from the rollups gives what aggregating the minutes gives. Retention deletes the
rollups of the hours it expired and recomputes the hour its cutoff falls in.

Two transactions writing minutes of one symbol's hour at once would each aggregate without
the other's uncommitted minutes; a transaction-scoped advisory lock per symbol, taken after
the minutes are written, orders them, and the later one's aggregate (a new snapshot, the
earlier one committed) includes both. SQLite has no rollups: it aggregates minutes in Python.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from backend.services.market.chunks import BarRow
from backend.services.market.intervals import BarInterval

_VALUES = ("open", "high", "low", "close", "volume", "turnover", "open_interest")
_ORIGIN = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
# pg_advisory_xact_lock(key, hashtext(symbol)): "redfire market hours".
_LOCK_KEY = 0x52464D48
HOUR = timedelta(hours=1)
# A refresh reads at most this much of the minutes per statement: the planner cannot tell how
# many hours date_bin makes of a range and sizes a whole year's aggregate for a million
# groups (spilled to disk); a week's stays in memory.
_WINDOW = timedelta(days=7)
# Runs one statement with its $n parameters: asyncpg's `execute`, or a SQLAlchemy
# connection's `exec_driver_sql` (see `sqlalchemy_execute`).
Execute = Callable[..., Awaitable[Any]]


def _aggregate(where: str) -> str:
    # Each hour's first and last minute come from the aggregate and are read back by primary
    # key, one indexed lookup each: cheaper than ordered arrays of every minute, and a plan
    # that does not depend on the table's statistics (scalar subqueries, not joins).
    def at(column: str, moment: str) -> str:
        return (
            f"(SELECT {column} FROM market_bars AS m WHERE m.symbol = hours.symbol"  # noqa: S608
            f" AND m.interval = '1m' AND m.datetime = hours.{moment})"
        )

    return f"""
INSERT INTO market_bar_hours (symbol, datetime, {", ".join(_VALUES)})
SELECT hours.symbol, hours.hour, {at("open", "first")}, hours.high, hours.low,
       {at("close", "last")}, hours.volume, hours.turnover, {at("open_interest", "last")}
FROM (
    SELECT symbol, date_bin('1 hour', datetime, {_ORIGIN}) AS hour, min(datetime) AS first,
           max(datetime) AS last, max(high) AS high, min(low) AS low,
           sum(volume) AS volume, sum(turnover) AS turnover
    FROM market_bars WHERE interval = '1m' AND {where} GROUP BY symbol, hour
) AS hours
ON CONFLICT (symbol, datetime) DO UPDATE SET
{", ".join(f"{name} = EXCLUDED.{name}" for name in _VALUES)}
"""  # noqa: S608  (constants only; values are bound)


# $1 symbol, [$2, $3) the hours.
REFRESH_SQL = _aggregate("symbol = $1 AND datetime >= $2 AND datetime < $3")
LOCK_SQL = f"SELECT pg_advisory_xact_lock({_LOCK_KEY}, hashtext($1))"
# Retention: every symbol's hour [$1, $2).
RECOMPUTE_ALL_SQL = _aggregate("datetime >= $1 AND datetime < $2")


def hours_of(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """[the hour of `first`, the hour after `last`'s): the rollups minutes in [first, last]
    touch."""
    return BarInterval.HOUR.floor(first), BarInterval.HOUR.floor(last) + HOUR


def sqlalchemy_execute(connection: Any) -> Execute:
    """`Execute` on a SQLAlchemy AsyncConnection (asyncpg: $n parameters pass through)."""

    async def execute(sql: str, *args: Any) -> None:
        await connection.exec_driver_sql(sql, args)

    return execute


async def refresh(execute: Execute, spans: dict[str, list[tuple[datetime, datetime]]]) -> None:
    """Recompute the rollups of each symbol's minutes in each [first, last], inside the
    transaction that wrote them; symbols are locked in order (no deadlock)."""
    for symbol in sorted(spans):
        await execute(LOCK_SQL, symbol)
        for first, last in spans[symbol]:
            low, high = hours_of(first, last)
            while low < high:
                await execute(REFRESH_SQL, symbol, low, min(low + _WINDOW, high))
                low += _WINDOW


def spans(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Hours (in order) as few spans [first hour, last hour]: hours less than a day apart
    share one (a statement per hour would cost more than the hours between)."""
    found: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if found and hour - found[-1][1] < _JOIN:
            found[-1] = (found[-1][0], hour)
        else:
            found.append((hour, hour))
    return found


_JOIN = timedelta(days=1)
MINUTES_PER_HOUR = 60


# A rollup row as built by the import: hour, open, high, low, close, volume, turnover, open
# interest, and how many minutes it was built from.
HourRow = list[Any]


def hour_rows(rows: Sequence[BarRow]) -> list[HourRow]:
    """Minutes (oldest first, exact at 8 places, as a CSV import's are) aggregated by UTC
    hour in Python, on the import's worker thread, by the same rules as the SQL: each hour's
    minutes found by bisection and reduced by the builtins."""
    hours: list[HourRow] = []
    moments = list(map(_MOMENT, rows))
    start, count = 0, len(rows)
    while start < count:
        hour = BarInterval.HOUR.floor(moments[start].astimezone(UTC))
        end = bisect_left(moments, hour + HOUR, start)
        minutes = rows[start:end]
        first, last = minutes[0], minutes[-1]
        hours.append([
            hour, first[2], max(map(_HIGH, minutes)), min(map(_LOW, minutes)), last[5],
            sum(map(_VOLUME, minutes), ZERO), sum(map(_TURNOVER, minutes), ZERO), last[8],
            len(minutes),
        ])  # fmt: skip
        start = end
    return hours


_MOMENT, _HIGH, _LOW, _VOLUME, _TURNOVER = (itemgetter(index) for index in (1, 3, 4, 6, 7))
ZERO = Decimal(0)


def join_hours(hours: list[HourRow], more: list[HourRow]) -> None:
    """Append the next chunk's hours to `hours`; an hour split between the chunks is one."""
    if hours and more and hours[-1][0] == more[0][0]:
        last, first = hours[-1], more[0]
        last[2], last[3] = max(last[2], first[2]), min(last[3], first[3])
        last[4], last[7] = first[4], first[7]
        last[5] += first[5]
        last[6] += first[6]
        last[8] += first[8]
        more = more[1:]
    hours.extend(more)


def hours_copy_text(hours: list[HourRow], symbol: str) -> bytes:
    """Hour rows as COPY's CSV text (symbol, datetime, open ... open interest)."""
    lines = [
        f"{symbol},{row[0].isoformat()},{','.join(format(value, 'f') for value in row[1:8])}"
        for row in hours
    ]
    lines.append("")
    return "\n".join(lines).encode()


MERGE_STAGED_HOURS = (
    f"INSERT INTO market_bar_hours (symbol, datetime, {', '.join(_VALUES)})"  # noqa: S608
    f" SELECT symbol, datetime, {', '.join(_VALUES)} FROM market_bar_hours_import"
    " ON CONFLICT (symbol, datetime) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _VALUES)
)
HOURS_COLUMNS = ["symbol", "datetime", *_VALUES]


async def expire(execute: Execute, cutoff: datetime) -> None:
    """After retention deleted the minutes before `cutoff`: drop the rollups of the hours
    that went and recompute the one `cutoff` falls in."""
    hour = BarInterval.HOUR.floor(cutoff)
    await execute("DELETE FROM market_bar_hours WHERE datetime < $1", hour + HOUR)
    await execute(RECOMPUTE_ALL_SQL, hour, hour + HOUR)
