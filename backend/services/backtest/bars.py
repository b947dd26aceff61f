"""Bar history for a backtest: the series, its CSV parser, and the tick each bar is fed as."""

from __future__ import annotations

import io
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import numpy as np

from backend.core.errors import DomainValidationError
from backend.core.lifecycle.collector import collection_paused
from backend.domain.market import DEPTH_FIELDS, TickSnapshot
from backend.services.market.csv_bars import CsvBarReader

if TYPE_CHECKING:
    from backend.services.backtest.history_feed import BarChunk

BACKTEST_GATEWAY = "BACKTEST"
# Ticks built in one C call (~10 ms): between two, other threads may run.
TICK_BLOCK = 65_536
ZERO = Decimal(0)


class InvalidBarDataError(DomainValidationError):
    """The uploaded history cannot be replayed; `detail` names the line and the problem."""

    code = "invalid_bar_data"


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """One symbol's bars, oldest first, in parallel lists (prices exact, as Decimals).

    `days` holds each bar's trading day (the calendar date of its datetime, in the offset it
    was given in) as a proleptic ordinal: the daily result table groups bars by it. `lines`
    holds each bar's line in the uploaded CSV (None for generated bars), so that a failure
    can name it. `ticks()` builds each bar's ReplayTick once and keeps them: every replay of
    the series (each run of a parameter sweep) shares them.
    """

    symbol: str
    datetimes: list[datetime]
    open: list[Decimal]
    high: list[Decimal]
    low: list[Decimal]
    close: list[Decimal]
    volume: list[Decimal]
    days: np.ndarray
    lines: np.ndarray | None = None
    _ticks: list[ReplayTick] = field(default_factory=list, repr=False)

    @property
    def bar_count(self) -> int:
        """The number of bars."""
        return len(self.close)

    def describe_bar(self, index: int) -> str:
        """Where bar `index` came from, for a person: its CSV line, number and datetime."""
        where = f"bar {index + 1} ({self.datetimes[index].isoformat()})"
        if self.lines is None:
            return where
        return f"line {int(self.lines[index])}, {where}"

    @classmethod
    def build(
        cls,
        symbol: str,
        datetimes: list[datetime],
        prices: tuple[list[Decimal], list[Decimal], list[Decimal], list[Decimal]],
        volume: list[Decimal],
        lines: np.ndarray | None = None,
    ) -> BarSeries:
        """A series from validated parallel lists; `prices` is (open, high, low, close)."""
        opens, highs, lows, closes = prices
        ordinals = (moment.toordinal() for moment in datetimes)
        days = np.fromiter(ordinals, dtype=np.int64, count=len(datetimes))
        return cls(symbol, datetimes, opens, highs, lows, closes, volume, days, lines)

    def extend(self, chunk: BarChunk) -> None:
        """Append the chunk's bars (a series read while it replays); `days` is left behind
        until `with_days`."""
        self.datetimes.extend(chunk.datetimes)
        self.open.extend(chunk.open)
        self.high.extend(chunk.high)
        self.low.extend(chunk.low)
        self.close.extend(chunk.close)
        self.volume.extend(chunk.volume)

    def with_days(self) -> BarSeries:
        """The same bars (the same lists and ticks) with `days` computed for all of them."""
        prices = (self.open, self.high, self.low, self.close)
        series = BarSeries.build(self.symbol, self.datetimes, prices, self.volume)
        series._ticks.extend(self._ticks)
        return series

    def ticks(self) -> list[ReplayTick]:
        """Every bar as the ReplayTick of its close, volume and time, built once (bars added
        by `extend` since the last call are built now) and kept.

        Built by C alone (zip, then tuple.__new__ through map): no Python frame runs per bar.
        """
        columns: tuple[list[Any], ...] = (self.close, self.volume, self.datetimes)
        if len({len(column) for column in columns}) > 1:
            raise ValueError("the bar series' columns differ in length")
        ticks = self._ticks
        # With the collector paused throughout (ReplayTick, a tuple subclass, is never
        # untracked, so collections part-way would walk the ticks again and again), a block at
        # a time: another thread (the API's event loop) gets the GIL between two.
        with collection_paused():
            for begin in range(len(ticks), len(self.close), TICK_BLOCK):
                fields = [column[begin : begin + TICK_BLOCK] for column in columns]
                # strict=False: `repeat` never ends; the columns' lengths are checked above.
                ticks.extend(
                    map(
                        _NEW_TUPLE,
                        repeat(ReplayTick),
                        zip(repeat(self.symbol), *fields, strict=False),
                    )
                )
        return ticks


class ReplayTick(NamedTuple):
    """One bar as the TickSnapshot a strategy's `on_tick` reads: last, bid and ask = close.

    A named tuple rather than the frozen dataclass, because one is built per bar of a
    million-bar replay: `replay_ticks` makes them without running any Python per bar. It has
    every TickSnapshot field (a test compares them), read as attributes.
    """

    symbol: str
    last_price: Decimal
    volume: Decimal
    datetime: datetime

    @property
    def gateway(self) -> str:
        """The backtest's gateway name."""
        return BACKTEST_GATEWAY

    @property
    def bid_price_1(self) -> Decimal:
        """The close (a bar has no book)."""
        return self.last_price

    @property
    def ask_price_1(self) -> Decimal:
        """The close (a bar has no book)."""
        return self.last_price

    @property
    def bid_volume_1(self) -> Decimal:
        """Zero: a bar has no book."""
        return ZERO

    @property
    def ask_volume_1(self) -> Decimal:
        """Zero: a bar has no book."""
        return ZERO

    @property
    def turnover(self) -> Decimal:
        """Zero: bars carry none."""
        return ZERO

    @property
    def open_interest(self) -> Decimal:
        """Zero: bars carry none."""
        return ZERO

    @property
    def depth(self) -> tuple[Decimal, ...]:
        """No levels behind the first (bid_price_2 ... ask_volume_5 read 0)."""
        return ()


for _name in DEPTH_FIELDS:  # TickSnapshot's properties, reading `depth`
    setattr(ReplayTick, _name, getattr(TickSnapshot, _name))

_NEW_TUPLE = tuple.__new__


def replay_ticks(bars: BarSeries, first: int = 0, last: int | None = None) -> Iterator[ReplayTick]:
    """Bars `first` to `last` (excluded; None: to the end) as their ReplayTicks (`ticks()`)."""
    ticks = bars.ticks()
    if first == 0 and last is None:
        return iter(ticks)
    return iter(ticks[first:last])  # copied, not skipped to (islice steps over the start)


def parse_csv_bars(content: bytes | BinaryIO, *, symbol: str, max_bars: int) -> BarSeries:
    """Bars from CSV with a header naming datetime, open, high, low, close, volume.

    Read line by line from a stream (an upload spooled to disk), never whole into memory.
    Datetimes are ISO 8601 (naive ones are UTC) and strictly increasing; prices are positive
    and finite with low <= open, close <= high; volume >= 0; numbers have at most 16 digits
    before the point and 8 after, as an order's (services/market/csv_bars.py). Any problem:
    422 naming the line. Each bar remembers its line, so a failure can name it too.
    """
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    reader = CsvBarReader(stream, max_bars=max_bars)
    datetimes: list[datetime] = []
    lines = array("q")
    columns: tuple[list[Decimal], ...] = ([], [], [], [], [])
    opens, highs, lows, closes, volumes = columns
    for line, moment, open_, high, low, close, volume, *_ in reader:
        lines.append(line)
        datetimes.append(moment)
        opens.append(open_)
        highs.append(high)
        lows.append(low)
        closes.append(close)
        volumes.append(volume)
    if reader.errors:
        raise InvalidBarDataError(str(reader.errors[0]))
    line_numbers = np.frombuffer(lines, dtype=np.int64)
    return BarSeries.build(symbol, datetimes, (opens, highs, lows, closes), volumes, line_numbers)
