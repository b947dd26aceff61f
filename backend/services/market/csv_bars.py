"""CsvBarReader: bars from CSV, read from a binary stream a block of lines at a time, every
line checked (the text: csv_text.py; the numbers: bar_numbers.py).

The header names the columns, in any order: `datetime, open, high, low, close, volume` and
optionally `turnover, open_interest` (others are ignored). Datetimes are ISO 8601 (a naive one
is UTC) and strictly increasing; prices are positive, finite, with low <= open, close <= high;
volume, turnover and open interest are >= 0; every number has at most 16 digits before the point
and 8 after, trailing zeros aside (what NUMERIC(24, 8) stores, and an order carries). Used by the
bar import (services/market/importer.py) and by backtest uploads.

A block is checked column by column and, when any line fails, line by line on a fast path that
only says yes or no; a line that fails that is checked again step by step to say what is wrong
with it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import chain, islice, repeat
from operator import attrgetter, le, lt
from typing import BinaryIO, cast

from backend.core.lifecycle.collector import collection_paused
from backend.services.market.bar_numbers import (
    LIMIT,
    MAX_PLACES,
    ZERO,
    amounts_of,
    cached,
    checked,
    prices_of,
    uncached_amounts,
    within_places,
)
from backend.services.market.csv_text import (
    LineTooLongError,
    NotUtf8Error,
    text_blocks,
)

REQUIRED_COLUMNS = ("datetime", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("turnover", "open_interest")
# (line, datetime, open, high, low, close, volume, turnover, open_interest, the line as
# written when it quotes nothing, else None)
CsvBar = tuple[
    int, datetime, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, str | None
]
_PRICES = ("open", "high", "low", "close")
_AMOUNTS = ("volume", "turnover", "open_interest")
# Bars per list from the csv module's path.
CSV_BATCH_ROWS = 16_384
_FROM_ISO = datetime.fromisoformat
_TZINFO, _SECOND, _MICROSECOND = (attrgetter(name) for name in ("tzinfo", "second", "microsecond"))


class BarLineError(ValueError):
    """A line that is not a bar; str() names the line and the problem."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


class CsvBarReader:
    """Iterating yields the valid bars; bad lines are collected in `errors` and skipped.

    Iteration stops at `max_errors` bad lines, at a structural problem (no header, not UTF-8,
    broken quoting, a line longer than MAX_LINE_BYTES) and past `max_bars` bars. The stream
    is read, never closed.

    The file is read a block of whole lines at a time. A block without quotes or bare
    carriage returns (what vnpy, pandas and most exporters write) is split on commas and
    checked column by column, each check one loop in C over the block; should any line fail,
    the block is checked again line by line to say which and why (the same rules, so both
    ways accept exactly the same bars). From the first block that quotes, the csv module
    reads the rest of the file line by line.
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
        self._header_line = 0
        self._fields = 0
        self._width = 0
        # The last bar's datetime (one bar may start at datetime.min itself).
        self._previous: datetime | None = None
        self._stopped = False
        self._line = 0  # the last line read, for a structural problem

    def __iter__(self) -> Iterator[CsvBar]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[CsvBar]]:
        """The valid bars, in order, a block of the file at a time."""
        try:
            yield from self._read()
        except csv.Error as exc:
            self._fail(self._line, f"malformed CSV: {exc}")
        except NotUtf8Error as exc:
            self._fail(exc.line, "the file is not UTF-8 text")
        except LineTooLongError as exc:
            self._fail(exc.line, f"the line is longer than {exc.limit:,} bytes")
        if not self._stopped:
            if not self.columns:
                self._fail(max(self._line, 1), "the file is empty")
            elif self.count == 0 and not self.errors:
                self._fail(self._header_line + 1, "no bars after the header")

    def _read(self) -> Iterator[list[CsvBar]]:
        texts = text_blocks(self.stream)
        line = 0  # lines before the block
        for text in texts:
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            if '"' in text or "\r" in text:
                yield from self._read_csv(chain([text], texts), line)
                return
            lines = text.split("\n")
            if not lines[-1]:
                lines.pop()  # after the block's last newline
            first = 0
            if not self.columns:
                first = self._find_header(lines, line)
                if self._stopped:
                    return
            self._line = line + len(lines)
            batch = self._checked_block(lines, first, line) if first < len(lines) else []
            if batch:
                yield batch
            if self._stopped:
                return
            line += len(lines)

    def _find_header(self, lines: list[str], line: int) -> int:
        """Read the header if among `lines`; the index of the line after it (len(lines) if
        not)."""
        for index, text in enumerate(lines):
            row = text.split(",")
            if _has_cells(row):
                self._header(line + index + 1, row)
                return index + 1
        return len(lines)

    def _header(self, line: int, header: list[str]) -> None:
        self._header_line = line
        order = self._columns(line, header)
        if order is None:
            self._stopped = True
            return
        self.columns = order
        self._width = max(index for index in order if index is not None) + 1
        self._fields = len(header)

    def _read_csv(self, texts: Iterator[str], line: int) -> Iterator[list[CsvBar]]:
        """The rest of the file through the csv module (quoted cells, bare CR line ends)."""
        lines = chain.from_iterable(io.StringIO(text, newline="") for text in texts)
        reader = csv.reader(lines)

        def numbered() -> Iterator[tuple[int, list[str], str | None]]:
            for row in reader:
                self._line = number = line + reader.line_num
                yield number, row, None

        rows = numbered()
        if not self.columns:
            for number, row, _ in rows:
                if _has_cells(row):
                    self._header(number, row)
                    break
            if not self.columns:
                return
        batch: list[CsvBar] = []
        for bar in self._checked_rows(rows):
            batch.append(bar)
            if len(batch) >= CSV_BATCH_ROWS:
                yield batch
                batch = []
        if batch:
            yield batch

    def _checked_block(self, lines: list[str], first: int, line: int) -> list[CsvBar]:
        """The bars of lines[first:] (line `line + index + 1` each): all at once when every
        line is a good bar, else line by line."""
        if first:
            lines = lines[first:]
        bars = self._all_good(lines, line + first + 1)
        if bars is not None:
            return bars
        numbered = (
            (number, text.split(","), text)
            for number, text in enumerate(lines, start=line + first + 1)
        )
        return list(self._checked_rows(numbered))

    def _all_good(self, lines: list[str], first_line: int) -> list[CsvBar] | None:
        """Every line as a bar, checked column by column; None as soon as any line is not a
        good bar (or is blank) or the bars would pass `max_bars`."""
        count = len(lines)
        commas = set(map(str.count, lines, repeat(",")))
        if self.count + count > self.max_bars or len(commas) != 1:
            return None
        fields = commas.pop() + 1
        if fields < self._width:
            return None
        required = cast("list[int]", self.columns[:6])  # the required columns are present
        moment_at, open_at, high_at, low_at, close_at, volume_at = required
        turnover_at, interest_at = self.columns[6:]
        # Every line has `fields` cells: column k is every fields-th cell from the k-th.
        cells = ",".join(lines).split(",")
        try:
            moments = list(map(_FROM_ISO, cells[moment_at::fields]))
            if not all(map(_TZINFO, moments)):
                moments = [m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments]
            if self.whole_minutes and (
                any(map(_SECOND, moments)) or any(map(_MICROSECOND, moments))
            ):
                return None
            previous = self._previous
            if previous is not None and not moments[0] > previous:
                return None
            if not all(map(lt, moments, islice(moments, 1, None))):
                return None
            prices, amounts = self._prices, self._amounts
            opens = prices_of(prices, cells[open_at::fields])
            highs = prices_of(prices, cells[high_at::fields])
            lows = prices_of(prices, cells[low_at::fields])
            closes = prices_of(prices, cells[close_at::fields])
            if not (
                all(map(le, lows, opens))
                and all(map(le, opens, highs))
                and all(map(le, lows, closes))
                and all(map(le, closes, highs))
            ):
                return None
            volumes = amounts_of(amounts, cells[volume_at::fields])
            interests: Iterable[Decimal] = (
                repeat(ZERO)
                if interest_at is None
                else amounts_of(amounts, cells[interest_at::fields])
            )
            turnovers: Iterable[Decimal] = (
                repeat(ZERO)
                if turnover_at is None
                else uncached_amounts(cells[turnover_at::fields])
            )
        except (ValueError, IndexError, InvalidOperation, ArithmeticError):
            return None
        self.count += count
        self._previous = moments[-1]
        # strict=False: `repeat` never ends; every other column has `count` items.
        numbers = range(first_line, first_line + count)
        columns = (moments, opens, highs, lows, closes, volumes, turnovers, interests)
        with collection_paused():
            return list(zip(numbers, *columns, lines, strict=False))

    def _checked_rows(
        self, numbered: Iterable[tuple[int, list[str], str | None]]
    ) -> Iterator[CsvBar]:
        """The good bars among numbered rows, one by one; what is wrong with the others goes
        in `errors` (and ends the reading at `max_errors`)."""
        order = self.columns
        width, fields, max_bars = self._width, self._fields, self.max_bars
        moment_at, open_at, high_at, low_at, close_at, volume_at, turnover_at, interest_at = order
        prices, amounts = self._prices, self._amounts
        price_of, amount_of = prices.get, amounts.get
        fromisoformat = datetime.fromisoformat
        whole_minutes = self.whole_minutes
        for line, row, written in numbered:
            previous = self._previous
            try:
                if len(row) < width:
                    raise IndexError
                moment = fromisoformat(row[moment_at].strip())  # type: ignore[index]
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                if whole_minutes and (moment.second or moment.microsecond):
                    raise ValueError(moment)
                # Each distinct text is parsed and range-checked once (prices > 0, amounts
                # >= 0, both below 10**16); turnovers rarely repeat and are checked each time.
                text = row[open_at]  # type: ignore[index]
                open_ = price_of(text) or cached(prices, text, ZERO)
                text = row[high_at]  # type: ignore[index]
                high = price_of(text) or cached(prices, text, ZERO)
                text = row[low_at]  # type: ignore[index]
                low = price_of(text) or cached(prices, text, ZERO)
                text = row[close_at]  # type: ignore[index]
                close = price_of(text) or cached(prices, text, ZERO)
                text = row[volume_at]  # type: ignore[index]
                volume = amount_of(text) or cached(amounts, text, None)
                interest = ZERO
                if interest_at is not None:
                    text = row[interest_at]
                    interest = amount_of(text) or cached(amounts, text, None)
                turnover = ZERO if turnover_at is None else checked(row[turnover_at], None)
                if not (
                    low <= open_ <= high
                    and low <= close <= high
                    and (previous is None or moment > previous)
                ):
                    raise ValueError
            except (ValueError, IndexError, InvalidOperation, ArithmeticError):
                if not _has_cells(row):
                    continue
                self.errors.append(_explain(line, row, order, fields, previous, whole_minutes))
                if len(self.errors) >= self.max_errors:
                    self._stopped = True
                    return
                continue
            if self.count >= max_bars:
                self._fail(line, f"more than {max_bars} bars")
                self._stopped = True
                return
            self.count += 1
            self._previous = moment
            yield (line, moment, open_, high, low, close, volume, turnover, interest, written)

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
    if not within_places(value):
        raise BarLineError(line, f"{name} {text!r} has more than {MAX_PLACES} decimal places")
    return value
