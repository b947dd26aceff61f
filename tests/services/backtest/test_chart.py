"""The equity chart: from the starting capital, and drawable for every date a bar can have."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backend.services.backtest.chart import equity_curve_points, equity_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_curve_starts_at_the_capital_so_a_first_day_loss_is_a_drawdown() -> None:
    daily = [{"date": "2024-03-04", "balance": "994"}, {"date": "2024-03-05", "balance": "1014"}]
    days, balance, drawdown = equity_curve_points(daily, Decimal(1000))
    assert days == [date(2024, 3, 3).toordinal(), *(date(2024, 3, d).toordinal() for d in (4, 5))]
    assert balance == [1000.0, 994.0, 1014.0]
    # vnpy's own drawdown starts at the first close: 0 on a first day that lost 6.
    assert drawdown == [0.0, -6.0, 0.0]


@pytest.mark.parametrize(
    "dates",
    [["9999-12-30", "9999-12-31"], ["9999-12-31"], ["0001-01-01", "0001-01-02"]],
)
def test_dates_at_the_ends_of_the_calendar_draw(dates: list[str]) -> None:
    """matplotlib's date axis raised "Matplotlib dates must be between year 0001 and 9999"."""
    daily = [{"date": day, "balance": str(990 + index)} for index, day in enumerate(dates)]
    png = equity_png(daily, capital=Decimal(1000), title="edge")
    assert png.startswith(PNG_SIGNATURE)
