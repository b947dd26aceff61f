"""An import's CSV: bars start where their interval does, and a day comes once."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from backend.services.market.csv_source import CsvSource
from backend.services.market.intervals import BarInterval

HEADER = "datetime,open,high,low,close,volume\n"


def read(text: str, interval: BarInterval) -> CsvSource:
    source = CsvSource(io.BytesIO(text.encode()), symbol="rb2501.SHFE", interval=interval)
    source.rows = [row for chunk in source._produce() for row in chunk.rows]  # type: ignore[attr-defined]
    return source


def test_minute_bars_start_on_a_whole_minute() -> None:
    source = read(
        HEADER + "2024-01-02T09:00:00+08:00,1,2,1,2,3\n2024-01-02T09:00:30+08:00,1,2,1,2,3\n",
        BarInterval.MINUTE,
    )
    assert source.errors == [
        "line 3: datetime 2024-01-02T09:00:30+08:00 does not start a whole minute"
    ]
    assert source.rows == []  # type: ignore[attr-defined]


def test_daily_bars_are_stored_at_midnight_utc_of_their_date_once() -> None:
    good = read(HEADER + "2024-01-02T00:00:00+08:00,1,2,1,2,3\n", BarInterval.DAY)
    assert good.errors == []
    assert good.rows[0][1] == datetime(2024, 1, 2, tzinfo=UTC)  # type: ignore[attr-defined]
    twice = read(
        HEADER + "2024-01-02T00:00:00+08:00,1,2,1,2,3\n2024-01-02T15:00:00+08:00,1,2,1,2,3\n",
        BarInterval.DAY,
    )
    assert twice.errors == ["line 3: a second 1d bar for 2024-01-02"]
    assert twice.rows == []  # type: ignore[attr-defined]
