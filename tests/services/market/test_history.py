"""Warm-up history: the last N days of stored bars, as RedFire bars and as vnpy's BarData."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData

from backend.app.container import AppContainer
from backend.services.market.intervals import BarInterval
from tests.services.market.support import imported

NOW = datetime(2024, 8, 20, 12, 0, tzinfo=UTC)


async def test_the_last_days_of_bars_for_load_bar(container: AppContainer) -> None:
    moments = [NOW - timedelta(days=days, minutes=1) for days in (12, 9, 3, 0)]
    await container.history.store.write_bars([imported(moment, "3300.5") for moment in moments])
    history = container.history.history
    bars = await history.load_days("rb2501.SHFE", 10, now=NOW)
    assert [bar.datetime for bar in bars] == moments[1:]
    hourly = await history.load_days("rb2501.SHFE", 10, BarInterval.HOUR, now=NOW)
    assert len(hourly) == 3
    vnpy_bars = await history.load_bar_data(
        "rb2501", Exchange.SHFE, Interval.MINUTE, NOW - timedelta(days=4), NOW
    )
    assert all(isinstance(bar, BarData) for bar in vnpy_bars)
    assert [
        (bar.vt_symbol, bar.datetime, bar.close_price, bar.high_price) for bar in vnpy_bars
    ] == [("rb2501.SHFE", moment, 3300.5, 3301.5) for moment in moments[2:]]
    assert vnpy_bars[0].interval is Interval.MINUTE
