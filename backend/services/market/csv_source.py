"""CsvSource: a CSV file of one symbol's bars of one interval, as chunks for the importer.

On top of the CSV checks (csv_bars.py) a bar must start where its interval starts: a 1m or
1h bar on a whole minute; a 1d bar is stored at 00:00 UTC of its date, the date as
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
        daily = self.interval is BarInterval.DAY
        reader = CsvBarReader(
            self.stream, max_bars=sys.maxsize, max_errors=MAX_REPORTED_ERRORS,
            whole_minutes=not daily,
        )  # fmt: skip
        chunks = self._days(reader) if daily else self._minutes(reader)
        for rows in chunks:
            yield Chunk(self.symbol, self.interval, rows, columns=tuple(reader.columns))

    def _minutes(self, reader: CsvBarReader) -> Iterator[list[BarRow]]:
        # The reader checks every line: its bars go into chunks of chunk_rows as they come.
        rows: list[BarRow] = []
        batches = reader.batches()
        for batch in batches:
            if reader.errors:
                for _ in batches:  # nothing is written once a line is bad: only look for more
                    pass
                break
            rows += batch
            while len(rows) >= self.chunk_rows:
                yield rows[: self.chunk_rows]
                del rows[: self.chunk_rows]
        if rows and not reader.errors:
            yield rows
        self.errors = [str(error) for error in reader.errors]

    def _days(self, reader: CsvBarReader) -> Iterator[list[BarRow]]:
        bad: list[BarLineError] = []
        rows: list[BarRow] = []
        previous: datetime | None = None
        for bar in reader:
            day = _day(bar[1])
            if previous is not None and day <= previous:
                bad.append(BarLineError(bar[0], f"a second 1d bar for {day.date().isoformat()}"))
                if len(bad) + len(reader.errors) >= MAX_REPORTED_ERRORS:
                    break
            previous = day
            if not (bad or reader.errors):
                rows.append((bar[0], day, *bar[2:9], None))
            if len(rows) >= self.chunk_rows:
                yield rows
                rows = []
        found = sorted([*reader.errors, *bad], key=lambda error: error.line)
        self.errors = [str(error) for error in found]
        if rows and not self.errors:
            yield rows


def _day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
