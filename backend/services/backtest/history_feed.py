"""HistoryFeed: a backtest's bars read from market history while the backtest runs.

The worker thread replaying the bars iterates the feed; each chunk is read on the event loop
(BarReader.row_chunks: one indexed query per chunk, no cursor held) and handed over through a
small queue, so the first bars replay while later ones are still being read and at most a
few chunks wait in memory. Texts become Decimals on the worker thread, one shared Decimal per
distinct price.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from backend.core.errors import DomainValidationError
from backend.services.backtest.bars import InvalidBarDataError
from backend.services.market.intervals import BarInterval
from backend.services.market.numbers import DecimalTexts
from backend.services.market.paging import Row
from backend.services.market.reading import BarReader

CHUNK_BARS = 20_000
_WAITING_CHUNKS = 4
_POLL_SECONDS = 0.5


class NoStoredBarsError(DomainValidationError):
    """Market history holds no bar of the symbol and interval in the range asked for."""

    code = "no_stored_bars"


async def count_replayable_bars(
    reader: BarReader,
    symbol: str,
    interval: BarInterval,
    start: datetime,
    end: datetime,
    *,
    max_bars: int,
) -> int:
    """The stored bars a run over [start, end) would replay: 422 when none or too many."""
    count = await reader.count(symbol, interval, start, end)
    if count == 0:
        raise NoStoredBarsError(
            f"no stored {interval.value} bars of {symbol} in "
            f"[{start.isoformat()}, {end.isoformat()})"
        )
    if count > max_bars:
        raise InvalidBarDataError(f"{count} bars in the range: more than {max_bars}")
    return count


@dataclass(frozen=True, slots=True)
class BarChunk:
    """Consecutive bars as parallel lists, as a BarSeries holds them."""

    datetimes: list[datetime]
    open: list[Decimal]
    high: list[Decimal]
    low: list[Decimal]
    close: list[Decimal]
    volume: list[Decimal]


class HistoryFeedStoppedError(RuntimeError):
    """The reader of the stored bars stopped before the last of them (the app is stopping)."""


class _End:
    """The feed is exhausted."""


class HistoryFeed:
    """Stored bars of [start, end) for one backtest; iterate it once, on a worker thread."""

    def __init__(
        self,
        reader: BarReader,
        loop: asyncio.AbstractEventLoop,
        *,
        symbol: str,
        interval: BarInterval,
        start: datetime,
        end: datetime,
        chunk_bars: int = CHUNK_BARS,
    ) -> None:
        self.reader = reader
        self.loop = loop
        self.symbol = symbol
        self.interval = interval
        self.start = start
        self.end = end
        self.chunk_bars = chunk_bars
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_WAITING_CHUNKS)
        self._closed = False

    def __iter__(self) -> Iterator[BarChunk]:
        producer = asyncio.run_coroutine_threadsafe(self._produce(), self.loop)
        texts = DecimalTexts()
        try:
            while True:
                item = self._next(producer)
                if isinstance(item, _End):
                    return
                if isinstance(item, BaseException):
                    raise item
                yield _columns(item, texts)
        finally:
            self._closed = True  # a producer blocked on a full queue gives up
            producer.cancel()

    def _next(self, producer: Future[None]) -> Any:
        # Never wait forever: the loop may stop (shutdown) and its reader with it.
        while True:
            try:
                return self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not producer.done() and self.loop.is_running():
                    continue
            try:  # the reader finished: what it put last is there, or it was stopped
                return self._queue.get_nowait()
            except queue.Empty:
                raise HistoryFeedStoppedError("reading the stored bars stopped") from None

    async def _produce(self) -> None:
        try:
            chunks = self.reader.row_chunks(
                self.symbol, self.interval, self.start, self.end, self.chunk_bars
            )
            async for rows in chunks:
                if not await asyncio.to_thread(self._put, rows):
                    return
            await asyncio.to_thread(self._put, _End())
        except Exception as exc:
            await asyncio.to_thread(self._put, exc)

    def _put(self, item: Any) -> bool:
        while not self._closed:
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


def _columns(rows: list[Row], texts: DecimalTexts) -> BarChunk:
    value = texts.get
    return BarChunk(
        [row[0] for row in rows],
        [value(row[1])[0] for row in rows],
        [value(row[2])[0] for row in rows],
        [value(row[3])[0] for row in rows],
        [value(row[4])[0] for row in rows],
        [value(row[5])[0] for row in rows],
    )
