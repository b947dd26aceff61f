"""BarImporter: bars in bulk into market_bars, all of them or none.

Every chunk is checked before it is written and everything is written in one transaction:
a bad line anywhere (or any failure) rolls the whole import back, so nothing is ever half
imported. An imported bar replaces a stored bar of the same symbol, interval and datetime.

PostgreSQL: each chunk goes in with COPY. A symbol and interval with no stored bar at or
after the import's first bar cannot overlap it, so its chunks are copied into market_bars
itself; otherwise into a temporary staging table, merged at the end by one
INSERT ... SELECT ... ON CONFLICT DO UPDATE. Should a bar appear meanwhile after all (a
recording replica), the unique violation rolls everything back and the import runs once
more, staged. The monthly partitions a chunk needs are created before it is copied. The
hourly rollups of imported minutes (rollups.py) are brought up to date in the same
transaction: built on the worker thread for minutes copied straight in, recomputed from the
table for merged ones.
SQLite: batched upserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from operator import is_, itemgetter
from typing import Any, cast

import asyncpg
import structlog
from sqlalchemy import Table
from sqlalchemy.dialects import sqlite

from backend.core.database.manager import AsyncDatabaseManager
from backend.core.errors import DomainValidationError
from backend.core.monitoring.metrics import BARS_IMPORTED
from backend.models.market import MarketBar
from backend.services.market import rollups
from backend.services.market.chunks import BarRow, Chunk, ChunkSource, error_summary
from backend.services.market.intervals import BarInterval
from backend.services.market.pages import BarPages
from backend.services.market.partitions import Partitions, month_of, next_month

logger = structlog.get_logger(__name__)

COPY_COLUMNS = [
    "symbol", "interval", "datetime", "open", "high", "low", "close",
    "volume", "turnover", "open_interest",
]  # fmt: skip
_VALUES = COPY_COLUMNS[3:]
_STAGING = "market_bars_import"
_MERGE_STAGED = (
    f"INSERT INTO market_bars ({', '.join(COPY_COLUMNS)})"  # noqa: S608  (constants only)
    f" SELECT {', '.join(COPY_COLUMNS)} FROM {_STAGING}"
    " ON CONFLICT (symbol, interval, datetime) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _VALUES)
    + ", first_tick_at = NULL, last_tick_at = NULL"
)
_OVERLAPS = (
    "SELECT EXISTS (SELECT 1 FROM market_bars"
    " WHERE symbol = $1 AND interval = $2 AND datetime >= $3)"
)
SQLITE_BATCH = 500
# ISO 8601 dates and times as PostgreSQL reads them too: 2024-01-02T09:30:00+08:00, ...
_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_ISO_SHAPE = re.compile(rf"{_ISO}$").match


class InvalidBarImportError(DomainValidationError):
    """The import's input has bad lines: `detail` names them; nothing was stored."""

    code = "invalid_bar_data"


@dataclass(frozen=True, slots=True)
class ImportedSeries:
    """What an import stored of one symbol and interval."""

    symbol: str
    interval: str
    bars: int
    first: datetime
    last: datetime


@dataclass
class _Tally:
    series: dict[tuple[str, str], list[Any]]

    def add(self, chunk: Chunk) -> None:
        key = (chunk.symbol, chunk.interval.value)
        entry = self.series.get(key)
        if entry is None:
            self.series[key] = [len(chunk.rows), chunk.first, chunk.last]
        else:
            entry[0] += len(chunk.rows)
            entry[2] = chunk.last

    def result(self) -> list[ImportedSeries]:
        return [
            ImportedSeries(symbol, interval, count, first, last)
            for (symbol, interval), (count, first, last) in self.series.items()
        ]


def copy_text(chunk: Chunk) -> bytes:
    """A chunk as COPY's text (comma-delimited): symbol, interval, datetime, open ...
    open_interest per line. Nothing in it needs escaping: symbols are letters, digits and
    . _ -, numbers and datetimes were read as such (no quote, comma or backslash survives
    that).

    Values read from text are passed on as they were written when PostgreSQL reads them
    the same way: ASCII, no `_` (Python's Decimal accepts 1_000, PostgreSQL does not), and a
    datetime of the usual ISO 8601 shape (naive ones are UTC: the import sets its session's
    time zone); anything else is written out from the parsed values.
    """
    prefix = f"{chunk.symbol},{chunk.interval.value},"
    columns = chunk.columns
    whole = _as_written(chunk, prefix)
    if whole is not None:
        return whole
    if not _copyable(columns):
        lines = [_written(prefix, row) for row in chunk.rows]
    else:
        at, *value_columns = columns
        present = [index for index in value_columns if index is not None]
        numbers_of = itemgetter(*present)
        zeros = ",0" * (len(value_columns) - len(present))
        assert at is not None
        lines = []
        for row in chunk.rows:
            written = row[9]
            if written is None:
                lines.append(_written(prefix, row))
                continue
            cells = written.split(",")
            numbers = ",".join(numbers_of(cells)) + zeros
            stamp = cells[at].strip()
            if numbers.isascii() and "_" not in numbers and _ISO_SHAPE(stamp):
                lines.append(f"{prefix}{stamp},{numbers}")
            else:
                lines.append(_written(prefix, row))
    lines.append("")
    return "\n".join(lines).encode()


def _as_written(chunk: Chunk, prefix: str) -> bytes | None:
    """The fast path of `copy_text`: a file whose columns are COPY's own, in its order and
    nothing else, passed on as written when every line qualifies (else None); each check
    one loop in C over the chunk."""
    if chunk.columns != _CANONICAL or "_" in prefix:
        return None
    lines = list(map(_WRITTEN, chunk.rows))
    if any(map(is_, lines, repeat(None))):
        return None
    body = ("\n" + prefix).join(lines)
    # A bar's line has at least a cell per column (the reader refuses it otherwise): 7
    # commas more than the prefix's per line are exactly 8 cells on every line.
    commas = (len(_CANONICAL) - 1 + prefix.count(",")) * len(lines) - prefix.count(",")
    if body.count(",") != commas or not body.isascii() or "_" in body:
        return None
    if not _iso_stamped(lines):
        return None
    return f"{prefix}{body}\n".encode()


def _iso_stamped(lines: list[str]) -> bool:
    """Every line (ASCII) starts with a datetime of the usual ISO 8601 shape and a comma.

    When the first line's datetime has the width of one of the fixed-width shapes (no
    fraction of a second), every line's is checked against that shape a character position
    at a time, each position one slice across all the lines (a loop in C); when that fails
    (or there is no such shape), line by line.
    """
    width = lines[0].find(",") + 1
    shape = _FIXED_SHAPES.get(width - 1)
    if shape is not None:
        count = len(lines)
        heads = "".join(map(itemgetter(slice(0, width)), lines))
        if (
            len(heads) == width * count
            and heads[width - 1 :: width] == "," * count
            and all(_column_fits(heads[at::width], kind, count) for at, kind in shape)
        ):
            return True
    return all(_ISO_SHAPE(line[: line.find(",")]) for line in lines)


def _column_fits(column: str, kind: str, count: int) -> bool:
    if kind == "d":
        return column.isdigit()
    if kind == "T":
        return not column.strip("T ")
    if kind == "+":
        return not column.strip("+-")
    return column == kind * count


def _fixed_shapes() -> dict[int, list[tuple[int, str]]]:
    """The shapes of `_ISO` without a fraction of a second, by length (each length has one):
    per character, d a digit, T "T" or a space, + a sign, anything else itself."""
    shapes = {}
    for time in ("dddd-dd-ddTdd:dd", "dddd-dd-ddTdd:dd:dd"):
        for zone in ("", "Z", "+dddd", "+dd:dd"):
            shape = time + zone
            shapes[len(shape)] = list(enumerate(shape))
    return shapes


_FIXED_SHAPES = _fixed_shapes()


# datetime, open, high, low, close, volume, turnover, open_interest: the first 8 cells.
_CANONICAL = (0, 1, 2, 3, 4, 5, 6, 7)
_WRITTEN = itemgetter(9)


def _written(prefix: str, row: BarRow) -> str:
    return prefix + ",".join([row[1].isoformat(), *map(str, row[2:9])])


def _copyable(columns: tuple[int | None, ...]) -> bool:
    # Absent optional columns (written as 0) must come last to be appended as ",0".
    values = list(columns[1:])
    while values and values[-1] is None:
        values.pop()
    return bool(columns) and columns[0] is not None and None not in values


class BarImporter:
    """Imports a source's bars in one transaction; 422 (and nothing stored) on bad input."""

    def __init__(
        self, database: AsyncDatabaseManager, partitions: Partitions, pages: BarPages | None
    ) -> None:
        self.database = database
        self.partitions = partitions
        self.pages = pages

    async def run(self, open_source: Callable[[], ChunkSource]) -> list[ImportedSeries]:
        """Import what `open_source()` reads (called again should the import run again)."""
        if self.database.config.is_sqlite:
            imported = await self._sqlite(open_source())
        else:
            try:
                imported = await self._postgresql(open_source(), staged=False)
            except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
                # A recording wrote one of these minutes meanwhile.
                logger.info("bar_import_retried_staged")
                imported = await self._postgresql(open_source(), staged=True)
        BARS_IMPORTED.inc(sum(series.bars for series in imported))
        if self.pages is not None:
            await self.pages.changed({series.symbol for series in imported})
        return imported

    async def _postgresql(self, source: ChunkSource, *, staged: bool) -> list[ImportedSeries]:
        tally = _Tally({})
        direct: dict[tuple[str, str], bool] = {}
        # The hourly rollups of each symbol's minutes, built on the worker thread while
        # the minutes go straight into market_bars (None: recomputed from the table).
        hours: dict[str, list[rollups.HourRow] | None] = {}
        staging = False
        async with (
            self.database.driver_connection() as driver,
            driver.transaction(),
            _PartitionsAhead(self.partitions) as ahead,
        ):
            await driver.execute("SET LOCAL TIME ZONE 'UTC'")  # naive datetimes are UTC
            chunks = source.chunks(_formatted)
            async with contextlib.aclosing(chunks):  # type: ignore[type-var]
                async for chunk in chunks:
                    key = (chunk.symbol, chunk.interval.value)
                    minutes = chunk.interval is BarInterval.MINUTE
                    if key not in direct:
                        if minutes:
                            # Held to the end: a recording of these hours meanwhile
                            # recomputes them after this import commits (rollups.py).
                            await driver.execute(rollups.LOCK_SQL, chunk.symbol)
                        overlaps = await driver.fetchval(_OVERLAPS, *key, chunk.first)
                        direct[key] = not (staged or overlaps)
                        if minutes:
                            hours[chunk.symbol] = []
                    months = _months_between({month_of(chunk.first), month_of(chunk.last)})
                    await ahead.ensure(months)
                    target = "market_bars"
                    if not direct[key]:
                        if not staging:
                            await driver.execute(
                                f"CREATE TEMPORARY TABLE {_STAGING} (LIKE market_bars)"
                                " ON COMMIT DROP"
                            )
                            staging = True
                        target = _STAGING
                    await _copy(driver, target, chunk)
                    tally.add(chunk)
                    if minutes:
                        _add_hours(hours, chunk)
            if source.errors:
                raise InvalidBarImportError(error_summary(source.errors))
            if staging:
                await driver.execute(_MERGE_STAGED)
            await _write_hours(driver, tally.result(), hours, direct)
        return tally.result()

    async def _sqlite(self, source: ChunkSource) -> list[ImportedSeries]:
        table = cast(Table, MarketBar.__table__)
        insert = sqlite.insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=["symbol", "interval", "datetime"],
            set_={
                **{name: insert.excluded[name] for name in _VALUES},
                "first_tick_at": None,
                "last_tick_at": None,
            },
        )
        tally = _Tally({})
        async with self.database.session() as session:
            chunks = source.chunks(_sqlite_rows)
            async with contextlib.aclosing(chunks):  # type: ignore[type-var]
                async for chunk in chunks:
                    rows = chunk.payload
                    for start in range(0, len(rows), SQLITE_BATCH):
                        await session.execute(statement, rows[start : start + SQLITE_BATCH])
                    tally.add(chunk)
            if source.errors:
                raise InvalidBarImportError(error_summary(source.errors))
        return tally.result()


class _PartitionsAhead:
    """Creates the month after the last one a chunk needed while the chunk is copied (a
    partition takes a transaction of its own, tens of milliseconds the copy need not wait)."""

    def __init__(self, partitions: Partitions) -> None:
        self.partitions = partitions
        self._next: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _PartitionsAhead:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._settled()

    async def ensure(self, months: set[date]) -> None:
        """Every month of `months` has its partition; the following month's is on its way."""
        await self._settled()
        await self.partitions.ensure("market_bars", months)
        following = {next_month(max(months))}
        self._next = asyncio.create_task(self.partitions.ensure("market_bars", following))

    async def _settled(self) -> None:
        # A month created ahead that failed is created (or fails) when it is needed.
        task, self._next = self._next, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


def _formatted(chunk: Chunk) -> tuple[bytes, list[rollups.HourRow] | None]:
    """(COPY text, the chunk's hourly rollups): those only of minutes read from a CSV file,
    exact at 8 places as stored (a vnpy database's floats are rounded by PostgreSQL)."""
    hours = None
    if chunk.interval is BarInterval.MINUTE and chunk.columns:
        hours = rollups.hour_rows(chunk.rows)
    return copy_text(chunk), hours


def _add_hours(hours: dict[str, list[rollups.HourRow] | None], chunk: Chunk) -> None:
    kept, more = hours.get(chunk.symbol), chunk.payload[1]
    if kept is None or more is None:
        hours[chunk.symbol] = None
    else:
        rollups.join_hours(kept, more)


async def _write_hours(
    driver: Any,
    imported: list[ImportedSeries],
    hours: dict[str, list[rollups.HourRow] | None],
    direct: dict[tuple[str, str], bool],
) -> None:
    """Bring the hourly rollups of the imported minutes up to date.

    The hours built on the worker thread are written where the import's minutes are all the
    hour holds: copied straight into market_bars (nothing stored at or after the first),
    every hour but the first, which may hold minutes stored before; merged into stored ones,
    the hours of 60 imported minutes. The others are recomputed from the table (all of them
    when the minutes came from a vnpy database, whose floats PostgreSQL rounds).
    """
    recompute: dict[str, list[tuple[datetime, datetime]]] = {}
    staged = False
    for series in imported:
        if series.interval != BarInterval.MINUTE.value:
            continue
        built = hours.get(series.symbol)
        if built is None:
            recompute[series.symbol] = [(series.first, series.last)]
            continue
        if direct[(series.symbol, series.interval)]:
            whole, partial = built, [(series.first, series.first)]
        else:
            whole = [hour for hour in built if hour[8] == rollups.MINUTES_PER_HOUR]
            partial = rollups.spans(hour[0] for hour in built if hour[8] < rollups.MINUTES_PER_HOUR)
        recompute[series.symbol] = partial
        if not whole:
            continue
        if not staged:
            await driver.execute(
                "CREATE TEMPORARY TABLE market_bar_hours_import (LIKE market_bar_hours)"
                " ON COMMIT DROP"
            )
            staged = True
        text = await asyncio.to_thread(rollups.hours_copy_text, whole, series.symbol)

        async def once(text: bytes = text) -> AsyncIterator[bytes]:
            yield text

        await driver.copy_to_table(
            "market_bar_hours_import", source=once(), columns=rollups.HOURS_COLUMNS, format="csv"
        )
    if staged:
        await driver.execute(rollups.MERGE_STAGED_HOURS)
    await rollups.refresh(driver.execute, recompute)


async def _copy(driver: Any, table: str, chunk: Chunk) -> None:
    """COPY one chunk; a value PostgreSQL refuses is a bad line of the input (422)."""

    async def once() -> AsyncIterator[bytes]:
        yield chunk.payload[0]

    try:
        # The text format, not CSV: PostgreSQL reads it a few per cent faster.
        await driver.copy_to_table(
            table, source=once(), columns=COPY_COLUMNS, format="text", delimiter=","
        )
    except asyncpg.DataError as exc:
        where = re.search(r"line (\d+)", getattr(exc, "context", None) or "")
        row = int(where.group(1)) if where else 0
        line = chunk.rows[row - 1][0] if 0 < row <= len(chunk.rows) else None
        place = f"line {line}" if line is not None else f"{chunk.symbol} near {chunk.first}"
        raise InvalidBarImportError(f"{place}: {exc.args[0] if exc.args else exc}") from None


def _sqlite_rows(chunk: Chunk) -> list[dict[str, Any]]:
    symbol, interval = chunk.symbol, chunk.interval.value
    return [
        {"symbol": symbol, "interval": interval, "datetime": row[1],
         **dict(zip(_VALUES, row[2:9], strict=True))}
        for row in chunk.rows
    ]  # fmt: skip


def _months_between(months: set[date]) -> set[date]:
    """Every month from the earliest to the latest of `months` (a chunk may span several)."""
    first, last = min(months), max(months)
    every = {first}
    while first < last:
        first = next_month(first)
        every.add(first)
    return every
