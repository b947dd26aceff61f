"""Small hand-made bar series for backtest tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backend.services.backtest.bars import BarSeries

START = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def make_bars(
    rows: list[tuple[str, str, str, str]], *, step: timedelta = timedelta(minutes=1)
) -> BarSeries:
    """Bars from (open, high, low, close) strings, `step` apart from START."""
    columns: tuple[list[Decimal], ...] = ([], [], [], [])
    for row in rows:
        for column, text in zip(columns, row, strict=True):
            column.append(Decimal(text))
    opens, highs, lows, closes = columns
    datetimes = [START + step * index for index in range(len(rows))]
    volumes = [Decimal(1)] * len(rows)
    return BarSeries.build("rb2501.SHFE", datetimes, (opens, highs, lows, closes), volumes)
