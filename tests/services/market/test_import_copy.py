"""PostgreSQL's COPY: texts it would refuse are written out, a value it refuses names a line."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.app.container import AppContainer
from backend.services.market.chunks import Chunk, Formatter
from backend.services.market.csv_source import CsvSource
from backend.services.market.importer import InvalidBarImportError, copy_text
from backend.services.market.intervals import BarInterval

MOMENT = datetime(2024, 1, 2, 1, 30, tzinfo=UTC)


def test_texts_postgresql_reads_differently_are_written_from_the_values() -> None:
    csv = (
        "datetime,open,high,low,close,volume\n"
        "2024-01-02T09:30:00+08:00,3500,3501,3499,3500.5,1_000\n"  # Python reads 1_000
        "2024-01-02T01:31:00,3500,3501,3499,3500.5,7\n"
    )
    source = CsvSource(io.BytesIO(csv.encode()), symbol="rb2501.SHFE", interval=BarInterval.MINUTE)
    [chunk] = list(source._produce())
    lines = copy_text(chunk).decode().splitlines()
    assert lines == [
        "rb2501.SHFE,1m,2024-01-02T09:30:00+08:00,3500,3501,3499,3500.5,1000,0,0",
        "rb2501.SHFE,1m,2024-01-02T01:31:00,3500,3501,3499,3500.5,7,0,0",
    ]


class OneChunk:
    """A source of one hand-made chunk (its cells as a file might have held them)."""

    def __init__(self, cells: list[str]) -> None:
        self.errors: list[str] = []
        values = (Decimal(1),) * 7
        row = (7, MOMENT, *values, ",".join(cells))
        self.chunk = Chunk("rb2501.SHFE", BarInterval.MINUTE, [row],  # type: ignore[list-item]
                           columns=(0, 1, 2, 3, 4, 5, None, None))  # fmt: skip

    async def chunks(self, formatter: Formatter) -> AsyncIterator[Chunk]:
        self.chunk.payload = formatter(self.chunk)
        yield self.chunk


async def test_a_value_postgresql_refuses_is_422_naming_its_line(container: AppContainer) -> None:
    if container.config.database.is_sqlite:
        pytest.skip("COPY is PostgreSQL's")
    source = OneChunk(["2024-01-02T01:30:00Z", "1", "1", "1", "1", "12abc"])
    with pytest.raises(InvalidBarImportError) as refused:
        await container.history.importer.run(lambda: source)
    assert str(refused.value.detail).startswith("line 7: invalid input syntax for type numeric")


def test_a_file_in_copys_own_columns_is_passed_on_as_written_unless_a_line_differs() -> None:
    header = "datetime,open,high,low,close,volume,turnover,open_interest\n"
    lines = ["2024-01-02T09:30:00+08:00,3500,3501,3499,3500.5,7,4.2e+05,12",
             "2024-01-02T01:31:00Z,3500,3501,3499,3500.5,8,0.125,13"]  # fmt: skip
    source = CsvSource(
        io.BytesIO((header + "\n".join(lines) + "\n").encode()),
        symbol="rb2501.SHFE", interval=BarInterval.MINUTE,
    )  # fmt: skip
    [chunk] = list(source._produce())
    assert copy_text(chunk).decode().splitlines() == [f"rb2501.SHFE,1m,{line}" for line in lines]
    # One line PostgreSQL would read differently: every line is written from the values.
    source = CsvSource(
        io.BytesIO((header + lines[0] + "\n" + lines[1].replace(",8,", ",8_0,") + "\n").encode()),
        symbol="rb2501.SHFE", interval=BarInterval.MINUTE,
    )  # fmt: skip
    [chunk] = list(source._produce())
    assert copy_text(chunk).decode().splitlines()[1] == (
        "rb2501.SHFE,1m,2024-01-02T01:31:00+00:00,3500,3501,3499,3500.5,80,0.125,13"
    )
