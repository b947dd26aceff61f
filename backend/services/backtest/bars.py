"""Bar history for a backtest: the series, its CSV parser, and the tick each bar is fed as."""

from __future__ import annotations

import io
from array import array
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from backend.core.errors import DomainValidationError
from backend.services.market.csv_bars import CsvBarReader

if TYPE_CHECKING:
    from backend.services.backtest.history_feed import BarChunk

BACKTEST_GATEWAY = "BACKTEST"
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
    can name it.
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
        """The same bars (the same lists) with `days` computed for all of them."""
        prices = (self.open, self.high, self.low, self.close)
        return BarSeries.build(self.symbol, self.datetimes, prices, self.volume)


class ReplayTick:
    """One bar as the TickSnapshot a strategy's `on_tick` reads: last, bid and ask = close.

    A plain slotted object rather than the frozen dataclass, because building one per bar of a
    million-bar replay must cost a fraction of a microsecond. It has every TickSnapshot field.
    """

    __slots__ = ("datetime", "last_price", "symbol", "volume")
    gateway = BACKTEST_GATEWAY

    def __init__(self, symbol: str, last_price: Decimal, volume: Decimal, moment: datetime):
        self.symbol = symbol
        self.last_price = last_price
        self.volume = volume
        self.datetime = moment

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
