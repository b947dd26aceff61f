"""CsvBarReader: bars from CSV, read line by line from a binary stream, every line checked.

The header names the columns, in any order: `datetime, open, high, low, close, volume` and
optionally `turnover, open_interest` (others are ignored). Datetimes are ISO 8601 (a naive one
is UTC) and strictly increasing; prices are positive, finite, with low <= open, close <= high;
volume, turnover and open interest are >= 0; every number has at most 16 digits before the point
and 8 after (what NUMERIC(24, 8) stores, and an order carries). Used by the bar import
(services/market/importer.py) and by backtest uploads.

Each line is checked on a fast path that only says yes or no; a line that fails is checked
again step by step to say what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

REQUIRED_COLUMNS = ("datetime", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("turnover", "open_interest")
ZERO = Decimal(0)
LIMIT = Decimal(10) ** 16
MAX_PLACES = 8
# (line, datetime, open, high, low, close, volume, turnover, open_interest, the line's cells)
CsvBar = tuple[
    int, datetime, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, tuple[str, ...]
]
_PRICES = ("open", "high", "low", "close")
_AMOUNTS = ("volume", "turnover", "open_interest")
_CACHE_LIMIT = 65_536
# A non-negative amount as a plain decimal text: what NUMERIC(24, 8) stores, no sign,
# exponent, spaces or `_` (texts of another shape take the careful path).
plain_amount = re.compile(r"[0-9]{1,16}(?:\.[0-9]{0,8})?").fullmatch


class BarLineError(ValueError):
    """A line that is not a bar; str() names the line and the problem."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


class CsvBarReader:
    """Iterating yields the valid bars; bad lines are collected in `errors` and skipped.

    Iteration stops at `max_errors` bad lines, at a structural problem (no header, not UTF-8,
    broken quoting) and past `max_bars` bars. The stream is read, never closed.
    """

    def __init__(
        self, stream: BinaryIO, *, max_bars: int, max_errors: int = 1, whole_minutes: bool = False
    ) -> None:
        self.stream = stream
        self.max_bars = max_bars
        self.max_errors = max_errors
        # Bars of 1m and 1h imports start on a whole minute.
        self.whole_minutes = whole_minutes
        self.errors: list[BarLineError] = []
        self.count = 0
        # Where each of REQUIRED_COLUMNS + OPTIONAL_COLUMNS is among a line's cells (None:
        # absent), once the header is read.
        self.columns: list[int | None] = []
        # Prices repeat on the tick grid, volumes and open interest often: one Decimal per
        # distinct text.
        self._prices: dict[str, Decimal] = {}
        self._amounts: dict[str, Decimal] = {}

    def __iter__(self) -> Iterator[CsvBar]:
        text = io.TextIOWrapper(self.stream, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            yield from self._read(reader)
        except csv.Error as exc:
            self._fail(reader.line_num, f"malformed CSV: {exc}")
        except UnicodeDecodeError:
            self._fail(reader.line_num + 1, "the file is not UTF-8 text")
        finally:
            text.detach()  # the caller's stream stays open

    def _read(self, reader: Any) -> Iterator[CsvBar]:
        header = next((row for row in reader if _has_cells(row)), None)
        if header is None:
            self._fail(1, "the file is empty")
            return
        header_line: int = reader.line_num
        order = self._columns(header_line, header)
        if order is None:
            return
        self.columns = order
        width = max(index for index in order if index is not None) + 1
        fields = len(header)
        moment_at, open_at, high_at, low_at, close_at, volume_at, turnover_at, interest_at = order
        prices, amounts = self._prices, self._amounts
        price_of, amount_of = prices.get, amounts.get
        fromisoformat = datetime.fromisoformat
        # Before any bar: one bar may start at datetime.min itself (0001-01-01T00:00Z).
        previous: datetime | None = None
        count, max_bars, whole_minutes = self.count, self.max_bars, self.whole_minutes
        for row in reader:
            try:
                if len(row) < width:
                    raise IndexError
                moment = fromisoformat(row[moment_at].strip())
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                if whole_minutes and (moment.second or moment.microsecond):
                    raise ValueError(moment)
                # Each distinct text is parsed and range-checked once (prices > 0, amounts
                # >= 0, both below 10**16); turnovers rarely repeat and are checked each time.
                text = row[open_at]
                open_ = price_of(text) or _cached(prices, text, ZERO)
                text = row[high_at]
                high = price_of(text) or _cached(prices, text, ZERO)
                text = row[low_at]
                low = price_of(text) or _cached(prices, text, ZERO)
                text = row[close_at]
                close = price_of(text) or _cached(prices, text, ZERO)
                text = row[volume_at]
                volume = amount_of(text) or _cached(amounts, text, None)
                interest = ZERO
                if interest_at is not None:
                    text = row[interest_at]
                    interest = amount_of(text) or _cached(amounts, text, None)
                # Turnovers rarely repeat: a plain text (at most 16 digits, a point, at
                # most 8) is in range as written; any other is parsed and checked.
                turnover = ZERO
                if turnover_at is not None:
                    text = row[turnover_at]
                    plain = plain_amount(text) is not None
                    turnover = Decimal(text) if plain else _checked(text, None)
                if not (
                    low <= open_ <= high
                    and low <= close <= high
                    and (previous is None or moment > previous)
                ):
                    raise ValueError
            except (ValueError, IndexError, InvalidOperation, ArithmeticError):
                if not _has_cells(row):
                    continue
                self.errors.append(
                    _explain(reader.line_num, row, order, fields, previous, whole_minutes)
                )
                if len(self.errors) >= self.max_errors:
                    return
                continue
            if count >= max_bars:
                self._fail(reader.line_num, f"more than {max_bars} bars")
                return
            count += 1
            self.count = count
            previous = moment
            yield (
                reader.line_num,
                moment,
                open_,
                high,
                low,
                close,
                volume,
                turnover,
                interest,
                tuple(row),  # texts only: the garbage collector soon stops tracking it
            )
        if count == 0 and not self.errors:
            self._fail(header_line + 1, "no bars after the header")

    def _columns(self, line: int, header: list[str]) -> list[int | None] | None:
        names = [cell.strip().lower() for cell in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            self._fail(line, f"missing column(s) {', '.join(missing)}")
            return None
        wanted = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
        return [names.index(name) if name in names else None for name in wanted]

    def _fail(self, line: int, problem: str) -> None:
        self.errors.append(BarLineError(line, problem))


def _cached(cache: dict[str, Decimal], text: str, above: Decimal | None) -> Decimal:
    """Parse `text`, check it (as `_checked`) and keep it."""
    value = _checked(text, above)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[text] = value
    return value


def _checked(text: str, above: Decimal | None) -> Decimal:
    """`text` parsed: > `above` (>= 0 when None), below 10**16, at most 8 places."""
    value = Decimal(text)
    if not (value > above if above is not None else value >= ZERO) or not value < LIMIT:
        raise ValueError(text)
    if _places(value) > MAX_PLACES:
        raise ValueError(text)
    return value


def _has_cells(row: list[str]) -> bool:
    return any(cell.strip() for cell in row)


def _explain(
    line: int,
    row: list[str],
    order: list[int | None],
    fields: int,
    previous: datetime | None,
    whole_minutes: bool,
) -> BarLineError:
    """What is wrong with a line the fast path refused."""
    if len(row) <= max(index for index in order if index is not None):
        return BarLineError(line, f"expected {fields} fields, found {len(row)}")
    cells = [None if index is None else row[index] for index in order]
    try:
        text = cells[0] or ""
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise BarLineError(line, f"datetime {text!r} is not ISO 8601") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        if whole_minutes and (moment.second or moment.microsecond):
            raise BarLineError(line, f"datetime {text.strip()} does not start a whole minute")
        named = zip(_PRICES, cells[1:5], strict=True)
        prices = [_number(line, name, cell or "") for name, cell in named]
        amounts = [
            ZERO if cell is None else _number(line, name, cell)
            for name, cell in zip(_AMOUNTS, cells[5:], strict=True)
        ]
        problem = bar_problem(*prices, *amounts)
        if problem is not None:
            raise BarLineError(line, problem)
        if previous is not None and moment <= previous:
            raise BarLineError(line, f"datetime {text.strip()} is not after the previous bar's")
    except BarLineError as error:
        return error
    return BarLineError(line, "not a bar")


def bar_problem(
    open_: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
    turnover: Decimal,
    interest: Decimal,
) -> str | None:
    """What makes these (finite) values no bar, or None."""
    values = (open_, high, low, close, volume, turnover, interest)
    for name, price in zip(_PRICES, values, strict=False):
        if price <= 0:
            return f"{name} {price} is not positive"
    if high < low:
        return f"high {high} is below low {low}"
    if not low <= open_ <= high or not low <= close <= high:
        return "open and close must lie within [low, high]"
    for name, amount in zip(_AMOUNTS, values[4:], strict=True):
        if amount < 0:
            return f"{name} {amount} is negative"
    for name, value in zip(_PRICES + _AMOUNTS, values, strict=True):
        if abs(value) >= LIMIT:
            return f"{name} {value} has more than 16 digits before the point"
    return None


def _number(line: int, name: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BarLineError(line, f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise BarLineError(line, f"{name} {text!r} is not finite")
    if abs(value) >= LIMIT:
        raise BarLineError(line, f"{name} {text!r} has more than 16 digits before the point")
    if _places(value) > MAX_PLACES:
        raise BarLineError(line, f"{name} {text!r} has more than {MAX_PLACES} decimal places")
    return value


def _places(value: Decimal) -> int:
    """Digits after the point as written ("1.50" has 2; "1E+3" none)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
