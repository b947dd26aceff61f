"""CsvSource: a CSV file of one symbol's bars of one interval, as chunks for the importer.

On top of the CSV checks (csv_bars.py) a bar must start where its interval starts: a 1m or
1h bar on a whole minute (UTC); a 1d bar is stored at 00:00 UTC of its date, the date as
written (a vnpy daily bar of 2024-01-02 00:00+08:00 is the bar of 2024-01-02), and a date
may not come twice.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from backend.services.market.chunks import (
    CHUNK_ROWS,
    MAX_REPORTED_ERRORS,
    BarRow,
    Chunk,
    Formatter,
    ThreadedChunks,
)
from backend.services.market.csv_bars import BarLineError, CsvBarReader
from backend.services.market.intervals import BarInterval


class CsvSource:
    """Chunks of a CSV stream (read from where it stands, never closed here)."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        symbol: str,
        interval: BarInterval,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.stream = stream
        self.symbol = symbol
        self.interval = interval
        self.chunk_rows = chunk_rows
        self.errors: list[str] = []

    def chunks(self, formatter: Formatter) -> AsyncIterator[Chunk]:
        """Every chunk, parsed and formatted on a worker thread."""
        return aiter(ThreadedChunks(self._produce(), formatter))

    def _produce(self) -> Iterator[Chunk]:
        reader = CsvBarReader(self.stream, max_bars=sys.maxsize, max_errors=MAX_REPORTED_ERRORS)
        bad: list[BarLineError] = []
        rows: list[BarRow] = []
        daily = self.interval is BarInterval.DAY
        previous: datetime | None = None
        for bar in reader:
            moment = bar[1]
            problem = None
            if daily:
                moment = _day(moment)
                if previous is not None and moment <= previous:
                    problem = f"a second 1d bar for {moment.date().isoformat()}"
                previous = moment
            elif moment.second or moment.microsecond:
                problem = f"a {self.interval.value} bar must start on a whole minute"
            if problem is not None:
                bad.append(BarLineError(bar[0], problem))
                if len(bad) + len(reader.errors) >= MAX_REPORTED_ERRORS:
                    break
                continue
            if bad or reader.errors:
                continue  # nothing is written once a line is bad: only look for more
            rows.append(bar if not daily else (bar[0], moment, *bar[2:9], None))
            if len(rows) >= self.chunk_rows:
                yield Chunk(self.symbol, self.interval, rows, columns=tuple(reader.columns))
                rows = []
        found = sorted([*reader.errors, *bad], key=lambda error: error.line)
        self.errors = [str(error) for error in found]
        if rows and not self.errors:
            yield Chunk(self.symbol, self.interval, rows, columns=tuple(reader.columns))


def _day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
