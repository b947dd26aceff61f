"""VnpyBarSource: the bars of a vnpy database (vnpy_sqlite or vnpy_postgresql), as chunks.

Both keep bars in `dbbardata` (peewee's name for DbBarData): symbol, exchange, datetime,
interval ("1m", "1h", "d", "w"), volume, turnover, open_interest, open_price, high_price,
low_price, close_price, floats (REAL, 4 bytes, on PostgreSQL), and datetimes without a zone
in vnpy's `database.timezone` (vnpy_sqlite: text; vnpy_postgresql: timestamp). A bar becomes
`symbol.EXCHANGE` (vnpy's vt_symbol) at 1m, 1h or 1d; weekly bars are skipped. Floats are
read as their shortest text (3500.2, not 3500.199951171875) and kept as that decimal.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from backend.services.market.chunks import (
    CHUNK_ROWS,
    MAX_REPORTED_ERRORS,
    SYMBOL,
    BarRow,
    Chunk,
    Formatter,
    ThreadedChunks,
)
from backend.services.market.csv_bars import bar_problem
from backend.services.market.intervals import BarInterval

INTERVALS = {"1m": BarInterval.MINUTE, "1h": BarInterval.HOUR, "d": BarInterval.DAY}
_COLUMNS = (
    "id, symbol, exchange, interval, datetime, open_price, high_price, low_price, close_price,"
    " volume, turnover, open_interest"
)


def is_postgresql(url: str) -> bool:
    """True for a PostgreSQL URL, False for a SQLite file (a path or sqlite:///path)."""
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


def sqlite_path(url: str) -> Path:
    """The file of `sqlite:///relative.db`, `sqlite:////absolute.db` or a plain path."""
    return Path(url.removeprefix("sqlite:///"))


def _decimal(value: Any) -> Decimal:
    # A float's shortest repr is the decimal vnpy meant ("3500.2"); a whole one loses ".0".
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text[:-2] if text.endswith(".0") else text)


class _BadRowError(ValueError):
    """A row of dbbardata that is no bar; str() says which and why."""


class VnpyBarSource:
    """dbbardata, ordered by symbol, exchange, interval and datetime; optionally some symbols."""

    def __init__(
        self,
        url: str,
        *,
        timezone: ZoneInfo,
        symbols: Sequence[str] = (),
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.url = url
        self.timezone = timezone
        self.symbols = list(symbols)
        self.chunk_rows = chunk_rows
        self.errors: list[str] = []
        self.skipped = 0

    def chunks(self, formatter: Formatter) -> AsyncIterator[Chunk]:
        """Every chunk, formatted by `formatter` on a worker thread."""
        if is_postgresql(self.url):
            return self._postgresql(formatter)
        return aiter(ThreadedChunks(self._sqlite(), formatter))

    def _query(self, postgresql: bool) -> tuple[str, list[Any]]:
        order = " ORDER BY symbol, exchange, interval, datetime"
        if not self.symbols:
            return f"SELECT {_COLUMNS} FROM dbbardata{order}", []  # noqa: S608  (constants only)
        if postgresql:
            where = " WHERE symbol || '.' || exchange = ANY($1::text[])"
            return f"SELECT {_COLUMNS} FROM dbbardata{where}{order}", [self.symbols]  # noqa: S608
        marks = ", ".join("?" for _ in self.symbols)
        where = f" WHERE symbol || '.' || exchange IN ({marks})"
        return f"SELECT {_COLUMNS} FROM dbbardata{where}{order}", list(self.symbols)  # noqa: S608

    def _sqlite(self) -> Iterator[Chunk]:
        path = sqlite_path(self.url)
        if not path.is_file():
            self.errors.append(f"no vnpy SQLite database at {path}")
            return
        # Chunks are read on whichever worker thread is free, one at a time.
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            sql, values = self._query(postgresql=False)
            cursor = connection.execute(sql, values)
            while rows := cursor.fetchmany(self.chunk_rows):
                yield from self._chunks(rows)
                if len(self.errors) >= MAX_REPORTED_ERRORS:
                    return
        except sqlite3.Error as exc:
            self.errors.append(f"cannot read dbbardata: {exc}")
        finally:
            connection.close()

    async def _postgresql(self, formatter: Formatter) -> AsyncIterator[Chunk]:
        url = self.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        sql, values = self._query(postgresql=True)
        # REAL as text: PostgreSQL writes the shortest text that reads back the same float.
        sql = sql.replace(
            _COLUMNS,
            "id, symbol, exchange, interval, datetime, open_price::text, high_price::text,"
            " low_price::text, close_price::text, volume::text, turnover::text,"
            " open_interest::text",
        )
        try:
            connection = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            self.errors.append(f"cannot connect to the vnpy database: {exc}")
            return
        try:
            async with connection.transaction(readonly=True):
                cursor = await connection.cursor(sql, *values)
                while rows := await cursor.fetch(self.chunk_rows):
                    chunks = await asyncio.to_thread(self._formatted, rows, formatter)
                    for chunk in chunks:
                        yield chunk
                    if len(self.errors) >= MAX_REPORTED_ERRORS:
                        return
        except asyncpg.PostgresError as exc:
            self.errors.append(f"cannot read dbbardata: {exc}")
        finally:
            await connection.close()

    def _formatted(self, rows: Iterable[Any], formatter: Formatter) -> list[Chunk]:
        chunks = list(self._chunks(rows))
        for chunk in chunks:
            chunk.payload = formatter(chunk)
        return chunks

    def _chunks(self, rows: Iterable[Any]) -> Iterator[Chunk]:
        """Rows of dbbardata as chunks of one symbol and interval each."""
        current: Chunk | None = None
        for row in rows:
            try:
                converted = self._convert(row)
            except _BadRowError as bad:
                self.errors.append(str(bad))
                continue
            if converted is None:
                continue  # a weekly bar
            symbol, interval, bar = converted
            if self.errors:
                continue  # nothing is written once a row is bad: only look for more
            if current is None or (current.symbol, current.interval) != (symbol, interval):
                if current is not None:
                    yield current
                current = Chunk(symbol, interval, [])
            current.rows.append(bar)
        if current is not None and not self.errors:
            yield current

    def _convert(self, row: Sequence[Any]) -> tuple[str, BarInterval, BarRow] | None:
        row_id, code, exchange, interval_name, moment = row[:5]
        where = f"dbbardata id {row_id}"
        interval = INTERVALS.get(interval_name)
        if interval is None:
            self.skipped += 1
            return None
        symbol = f"{code}.{exchange}"
        if not SYMBOL.match(symbol):
            raise _BadRowError(f"{where}: symbol {symbol!r} is not a vt_symbol RedFire accepts")
        try:
            values = [_decimal(value) for value in row[5:]]
        except InvalidOperation:
            raise _BadRowError(f"{where}: a price or volume is not a number") from None
        if not all(value.is_finite() for value in values):
            raise _BadRowError(f"{where}: a price or volume is not finite")
        open_, high, low, close, volume, turnover, interest = values
        problem = bar_problem(open_, high, low, close, volume, turnover, interest)
        if problem is not None:
            raise _BadRowError(f"{where}: {problem}")
        when = self._moment(moment, interval)
        if when is None:
            raise _BadRowError(f"{where}: datetime {moment!r} is not a bar's start")
        return (
            symbol,
            interval,
            (row_id, when, open_, high, low, close, volume, turnover, interest, None),
        )

    def _moment(self, value: Any, interval: BarInterval) -> datetime | None:
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            return None
        if interval is BarInterval.DAY:
            return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        local = moment.replace(tzinfo=self.timezone) if moment.tzinfo is None else moment
        utc = local.astimezone(UTC)
        return None if utc.second or utc.microsecond else utc
