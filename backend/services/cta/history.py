"""A backtest's bars as a CTA strategy sees them: vnpy BarData."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData

from backend.services.backtest.bars import BarSeries

# vnpy's bars loaded from its database carry this gateway name; the same here, so a strategy
# sees exactly the objects vnpy's BacktestingEngine would hand it.
HISTORY_GATEWAY = "DB"
_NEW_BAR = BarData.__new__


def exchange_problem(symbol: str) -> str | None:
    """Why vnpy cannot trade `symbol` (its exchange is not one of vnpy's), or None."""
    exchange = symbol.rsplit(".", 1)[-1]
    try:
        Exchange(exchange)
    except ValueError:
        return f"{exchange} is not a vnpy exchange: a CTA strategy cannot trade {symbol}"
    return None


def bar_stream(bars: BarSeries, interval: Interval = Interval.MINUTE) -> Iterator[BarData]:
    """Each bar as vnpy BarData (float prices, as vnpy's database returns them), one at a time.

    Made as the replay reaches it, so a long replay never holds every bar's object at once.
    Each instance's attribute dict is filled directly: the attributes the dataclass
    constructor sets (a test compares them), at a third of its cost.
    """
    code, exchange_text = bars.symbol.rsplit(".", 1)
    exchange = Exchange(exchange_text)
    vt_symbol = f"{code}.{exchange.value}"
    columns = zip(
        bars.datetimes,
        _floats(bars.open),
        _floats(bars.high),
        _floats(bars.low),
        _floats(bars.close),
        _floats(bars.volume),
        strict=True,
    )
    new = _NEW_BAR
    for moment, open_, high, low, close, volume in columns:
        bar = new(BarData)
        bar.__dict__ = {
            "gateway_name": HISTORY_GATEWAY, "symbol": code, "exchange": exchange,
            "datetime": moment, "interval": interval, "volume": volume, "turnover": 0,
            "open_interest": 0, "open_price": open_, "high_price": high, "low_price": low,
            "close_price": close, "vt_symbol": vt_symbol,
        }  # fmt: skip
        yield bar


def bar_data(bars: BarSeries, interval: Interval = Interval.MINUTE) -> list[BarData]:
    """Every bar as vnpy BarData, in a list."""
    return list(bar_stream(bars, interval))


def _floats(column: list[Decimal]) -> list[float]:
    # Prices repeat on the tick grid (and every bar source shares one Decimal per value, its
    # hash computed once): convert each distinct value once, then map the column in C.
    floats = {value: float(value) for value in set(column)}
    return list(map(floats.__getitem__, column))
