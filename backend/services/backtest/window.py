"""The bars a backtest replays and the ones before `settings.start` (warm-up history)."""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime

from backend.services.backtest.bars import BarSeries


def split_at(bars: BarSeries, start: datetime | None) -> tuple[BarSeries, BarSeries]:
    """(bars before `start`, bars from `start` on); no start: nothing before, all replayed.

    The bars before the start are the history `load_bar` serves (vnpy's database before the
    backtest's start); only the bars from the start on are traded and marked to market.
    """
    if start is None or not bars.datetimes or start <= bars.datetimes[0]:
        return slice_series(bars, 0, 0), bars
    cut = bisect_left(bars.datetimes, start)
    return slice_series(bars, 0, cut), slice_series(bars, cut, bars.bar_count)


def slice_series(bars: BarSeries, begin: int, end: int) -> BarSeries:
    """Bars `begin` to `end` (exclusive) as a series of their own."""
    if begin == 0 and end == bars.bar_count:
        return bars
    return BarSeries(
        bars.symbol,
        bars.datetimes[begin:end],
        bars.open[begin:end],
        bars.high[begin:end],
        bars.low[begin:end],
        bars.close[begin:end],
        bars.volume[begin:end],
        bars.days[begin:end],
    )
