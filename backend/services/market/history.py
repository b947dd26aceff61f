"""BarHistory: stored bars for strategy warm-up, as RedFire bars or as vnpy's BarData.

The piece a strategy engine plugs into vnpy's `load_bar(days, interval, callback)`:
`await history.load_days("rb2501.SHFE", 10)` is the last ten days of one-minute bars, oldest
first, and `load_bar_data` has the signature of vnpy's `BaseDatabase.load_bar_data`, so a
vnpy strategy's history can come from RedFire's store. Bars are exact Decimals here; vnpy's
BarData carries floats, as vnpy's own databases hand them out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData

from backend.services.market.bar import Bar
from backend.services.market.intervals import BarInterval
from backend.services.market.reading import BarReader

VNPY_INTERVALS = {
    Interval.MINUTE: BarInterval.MINUTE,
    Interval.HOUR: BarInterval.HOUR,
    Interval.DAILY: BarInterval.DAY,
}
_FROM_OURS = {ours: theirs for theirs, ours in VNPY_INTERVALS.items()}
CHUNK = 50_000


class BarHistory:
    """Reads stored bars (see services/market/reading.py for how intervals are built)."""

    def __init__(self, reader: BarReader) -> None:
        self.reader = reader

    async def load_bars(
        self, symbol: str, interval: BarInterval, start: datetime, end: datetime
    ) -> list[Bar]:
        """The bars of `symbol` starting in [start, end), oldest first."""
        bars: list[Bar] = []
        async for chunk in self.reader.chunks(symbol, interval, start, end, CHUNK):
            bars += chunk
        return bars

    async def load_days(
        self,
        symbol: str,
        days: int,
        interval: BarInterval = BarInterval.MINUTE,
        *,
        now: datetime | None = None,
    ) -> list[Bar]:
        """The last `days` days of bars up to `now`, as vnpy's `load_bar(days)` asks for."""
        end = now or datetime.now(UTC)
        return await self.load_bars(symbol, interval, end - timedelta(days=days), end)

    async def load_bar_data(
        self,
        symbol: str,
        exchange: Exchange,
        interval: Interval,
        start: datetime,
        end: datetime,
    ) -> list[BarData]:
        """vnpy's BaseDatabase.load_bar_data: bars of `symbol` on `exchange` in [start, end]."""
        ours = VNPY_INTERVALS.get(interval)
        if ours is None:
            raise ValueError(f"no stored bars at vnpy interval {interval.value}")
        aware = [moment if moment.tzinfo else moment.replace(tzinfo=UTC) for moment in (start, end)]
        bars = await self.load_bars(
            f"{symbol}.{exchange.value}", ours, aware[0], aware[1] + timedelta(microseconds=1)
        )
        return [to_bar_data(bar) for bar in bars]


def to_bar_data(bar: Bar, gateway_name: str = "DB") -> BarData:
    """A stored bar as vnpy's BarData (floats, the vt_symbol split into symbol and exchange)."""
    code, _, exchange = bar.symbol.rpartition(".")
    return BarData(
        gateway_name=gateway_name,
        symbol=code,
        exchange=Exchange(exchange),
        datetime=bar.datetime,
        interval=_FROM_OURS.get(BarInterval(bar.interval)),
        volume=float(bar.volume),
        turnover=float(bar.turnover),
        open_interest=float(bar.open_interest),
        open_price=float(bar.open),
        high_price=float(bar.high),
        low_price=float(bar.low),
        close_price=float(bar.close),
    )
