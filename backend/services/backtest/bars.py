"""Bar history for a backtest: the series, its CSV parser, and the tick each bar is fed as."""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation

import numpy as np

from backend.core.errors import DomainValidationError

BACKTEST_GATEWAY = "BACKTEST"
CSV_COLUMNS = ("datetime", "open", "high", "low", "close", "volume")
ZERO = Decimal(0)
# Bars carry what an order may: 16 digits before the point and 8 after (NUMERIC(24, 8)).
MAX_INTEGER_DIGITS = 16
MAX_PLACES = 8
_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS
_QUANTUM = Decimal(1).scaleb(-MAX_PLACES)
_WIDE = Context(prec=80)


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


class _CsvBars:
    """Accumulates parsed rows, checking each against the previous one."""

    def __init__(self, max_bars: int) -> None:
        self.max_bars = max_bars
        self.datetimes: list[datetime] = []
        self.lines = array("q")
        self.columns: tuple[list[Decimal], ...] = ([], [], [], [], [])
        self._decimals: dict[str, Decimal] = {}

    def add(self, line: int, row: list[str]) -> None:
        if len(self.datetimes) >= self.max_bars:
            raise InvalidBarDataError(f"line {line}: more than {self.max_bars} bars")
        moment = _parse_datetime(line, row[0])
        if self.datetimes and moment <= self.datetimes[-1]:
            raise InvalidBarDataError(
                f"line {line}: datetime {row[0]} is not after the previous bar's"
            )
        named = zip(CSV_COLUMNS[1:], row[1:], strict=True)
        values = [self._decimal(line, name, text) for name, text in named]
        _check_bar(line, *values)
        self.datetimes.append(moment)
        self.lines.append(line)
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)

    def _decimal(self, line: int, name: str, text: str) -> Decimal:
        # Prices repeat on the tick grid: share one Decimal per distinct text.
        value = self._decimals.get(text)
        if value is None:
            try:
                value = Decimal(text.strip())
            except InvalidOperation:
                raise InvalidBarDataError(f"line {line}: {name} {text!r} is not a number") from None
            if not value.is_finite():
                raise InvalidBarDataError(f"line {line}: {name} {text!r} is not finite")
            if abs(value) >= _LIMIT:
                raise InvalidBarDataError(
                    f"line {line}: {name} {text!r} has more than {MAX_INTEGER_DIGITS} digits "
                    "before the point"
                )
            if value.quantize(_QUANTUM, context=_WIDE) != value:
                raise InvalidBarDataError(
                    f"line {line}: {name} {text!r} has more than {MAX_PLACES} decimal places"
                )
            self._decimals[text] = value
        return value


def _parse_datetime(line: int, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidBarDataError(f"line {line}: datetime {text!r} is not ISO 8601") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _check_bar(
    line: int, open_: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal
) -> None:
    for name, price in (("open", open_), ("high", high), ("low", low), ("close", close)):
        if price <= 0:
            raise InvalidBarDataError(f"line {line}: {name} {price} is not positive")
    if volume < 0:
        raise InvalidBarDataError(f"line {line}: volume {volume} is negative")
    if high < low:
        raise InvalidBarDataError(f"line {line}: high {high} is below low {low}")
    if not low <= open_ <= high or not low <= close <= high:
        raise InvalidBarDataError(f"line {line}: open and close must lie within [low, high]")


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        if row and any(cell.strip() for cell in row):
            yield reader.line_num, row


def _column_order(line: int, header: list[str]) -> list[int]:
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in CSV_COLUMNS if name not in names]
    if missing:
        raise InvalidBarDataError(f"line {line}: missing column(s) {', '.join(missing)}")
    return [names.index(name) for name in CSV_COLUMNS]


def parse_csv_bars(content: bytes, *, symbol: str, max_bars: int) -> BarSeries:
    """Bars from CSV text with a header naming datetime, open, high, low, close, volume.

    Datetimes are ISO 8601 (naive ones are UTC) and strictly increasing; prices are positive
    and finite with low <= open, close <= high; volume >= 0; numbers have at most 16 digits
    before the point and 8 after, as an order's. Any problem: 422 naming the line.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidBarDataError(f"the file is not UTF-8 text (byte {exc.start})") from None
    rows = _rows(text)
    try:
        first = next(rows, None)
        if first is None:
            raise InvalidBarDataError("line 1: the file is empty")
        order = _column_order(*first)
        bars = _CsvBars(max_bars)
        for line, row in rows:
            if len(row) < len(first[1]):
                raise InvalidBarDataError(f"line {line}: expected {len(first[1])} fields")
            bars.add(line, [row[index] for index in order])
    except csv.Error as exc:
        raise InvalidBarDataError(f"malformed CSV: {exc}") from None
    if not bars.datetimes:
        raise InvalidBarDataError(f"line {first[0] + 1}: no bars after the header")
    opens, highs, lows, closes, volumes = bars.columns
    lines = np.frombuffer(bars.lines, dtype=np.int64)
    return BarSeries.build(symbol, bars.datetimes, (opens, highs, lows, closes), volumes, lines)
