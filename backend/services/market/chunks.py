"""Chunks of validated bars on their way into the database, read ahead on a worker thread.

A source (a CSV file, a vnpy database) yields chunks of one symbol and interval, oldest
first, and collects what is wrong with its input in `errors` instead of yielding it. The
writer formats each chunk for its database on the same worker thread (`Formatter`), so
parsing and formatting never run on the event loop, and reads the next chunk while it writes
the current one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from backend.services.market.intervals import BarInterval

# (the line, or row id, it came from; datetime (any offset); open, high, low, close, volume,
# turnover, open_interest; the line it was read from as written, or None)
BarRow = tuple[
    int,
    datetime,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    str | None,
]
# Symbols travel into COPY's CSV text unquoted: letters, digits and . _ - only.
SYMBOL = re.compile(r"^[A-Za-z0-9_-]+\.[A-Z]+$")
CHUNK_ROWS = 20_000
MAX_REPORTED_ERRORS = 10


@dataclass(slots=True)
class Chunk:
    """Bars of one symbol and interval, oldest first, and their form for the writer.

    Bars read from text keep their lines as written (`columns` says where datetime, open ...
    open_interest are among a line's cells), so that the COPY text can reuse them instead of
    writing every value out again.
    """

    symbol: str
    interval: BarInterval
    rows: list[BarRow]
    payload: Any = None
    columns: tuple[int | None, ...] = ()

    @property
    def first(self) -> datetime:
        """The oldest bar's datetime, in UTC."""
        return self.rows[0][1].astimezone(UTC)

    @property
    def last(self) -> datetime:
        """The newest bar's datetime, in UTC."""
        return self.rows[-1][1].astimezone(UTC)


Formatter = Callable[[Chunk], Any]


class ChunkSource(Protocol):
    """Validated bars in chunks; what could not be read is in `errors`."""

    errors: list[str]

    def chunks(self, formatter: Formatter) -> AsyncIterator[Chunk]:
        """Every chunk, each formatted by `formatter` off the event loop."""
        ...


@dataclass
class ThreadedChunks:
    """Runs a blocking chunk iterator on a worker thread, one chunk ahead of its reader."""

    produce: Iterator[Chunk]
    formatter: Formatter
    _ahead: asyncio.Future[Chunk | None] | None = field(default=None, init=False)

    def _next(self) -> Chunk | None:
        chunk = next(self.produce, None)
        if chunk is not None:
            chunk.payload = self.formatter(chunk)
        return chunk

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        try:
            self._ahead = asyncio.ensure_future(asyncio.to_thread(self._next))
            while True:
                chunk = await self._ahead
                if chunk is None:
                    self._ahead = None
                    return
                self._ahead = asyncio.ensure_future(asyncio.to_thread(self._next))
                yield chunk
        finally:
            # The thread must be done with the source before its stream is closed.
            ahead, self._ahead = self._ahead, None
            if ahead is not None:
                await asyncio.gather(ahead, return_exceptions=True)
            close = getattr(self.produce, "close", None)
            if close is not None:  # a generator stopped early releases what it holds
                await asyncio.to_thread(close)


def error_summary(errors: list[str]) -> str:
    """The first bad lines, one after the other."""
    shown = "; ".join(errors[:MAX_REPORTED_ERRORS])
    more = len(errors) - MAX_REPORTED_ERRORS
    return shown if more <= 0 else f"{shown}; and {more} more"
