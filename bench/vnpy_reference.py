"""vnpy_ctastrategy's BacktestingEngine with DoubleMaStrategy (or another CtaTemplate, such as
bench.running_ma's RunningMaStrategy) on a RedFire BarSeries.

Shared by `bench.bench_backtest` and the agreement tests (tests/services/backtest).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from vnpy.trader.constant import Direction, Exchange, Interval
from vnpy.trader.object import BarData
from vnpy_ctastrategy.backtesting import BacktestingEngine
from vnpy_ctastrategy.strategies.double_ma_strategy import DoubleMaStrategy
from vnpy_ctastrategy.template import CtaTemplate

from backend.models.enums import OrderSide
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestResult

# (bar datetime, side, price, volume) of one fill, comparable across both engines.
TradeKey = tuple[datetime, str, float, float]


class QuietBacktestingEngine(BacktestingEngine):  # type: ignore[misc]
    """vnpy's engine without its console output and without its bar database (no warm-up load)."""

    def output(self, msg: str) -> None:
        """Say nothing."""

    def load_bar(self, *args: Any, **kwargs: Any) -> list[BarData]:
        """DoubleMaStrategy's `load_bar(10)`: nothing before the replay, as in RedFire."""
        return []


def vnpy_bars(bars: BarSeries) -> list[BarData]:
    """The same bars as vnpy BarData (float prices: exact on a binary-representable grid)."""
    code, exchange = bars.symbol.split(".")
    return [
        BarData(
            gateway_name="DB", symbol=code, exchange=Exchange(exchange), datetime=moment,
            interval=Interval.MINUTE, volume=float(volume), open_price=float(open_),
            high_price=float(high), low_price=float(low), close_price=float(close),
        )
        for moment, open_, high, low, close, volume in zip(
            bars.datetimes, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True
        )
    ]  # fmt: skip


def prepare_vnpy(
    bars: BarSeries,
    history: list[BarData],
    costs: CostModel,
    setting: dict[str, Any],
    strategy_class: type[CtaTemplate] = DoubleMaStrategy,
) -> QuietBacktestingEngine:
    """An engine loaded with `history` and `strategy_class` (DoubleMaStrategy), ready to run."""
    engine = QuietBacktestingEngine()
    engine.set_parameters(
        vt_symbol=bars.symbol, interval=Interval.MINUTE, start=bars.datetimes[0],
        end=bars.datetimes[-1], rate=float(costs.rate), slippage=float(costs.slippage),
        size=float(costs.size), pricetick=float(costs.pricetick), capital=int(costs.capital),
    )  # fmt: skip
    engine.add_strategy(strategy_class, setting)
    engine.history_data = history
    return engine


def run_vnpy(engine: QuietBacktestingEngine) -> dict[str, Any]:
    """Run, compute the daily table and the statistics."""
    engine.run_backtesting()
    engine.calculate_result()
    statistics: dict[str, Any] = engine.calculate_statistics(output=False)
    return statistics


def vnpy_trades(engine: QuietBacktestingEngine) -> list[TradeKey]:
    """vnpy's fills, oldest first."""
    return [
        (
            trade.datetime,
            (OrderSide.BUY if trade.direction is Direction.LONG else OrderSide.SELL).value,
            trade.price,
            trade.volume,
        )
        for trade in engine.trades.values()
    ]


def redfire_trades(bars: BarSeries, result: BacktestResult) -> list[TradeKey]:
    """RedFire's fills in the same shape (float() of exact grid prices is exact)."""
    fills = result.fills
    return [
        (bars.datetimes[index], side.value, float(price), float(volume))
        for index, side, price, volume in zip(
            fills.bar_index, fills.side, fills.price, fills.quantity, strict=True
        )
    ]


def same_to_the_cent(exact: str | Decimal, vnpy_value: float) -> bool:
    """True when RedFire's exact amount and vnpy's float agree to the cent."""
    return abs(Decimal(exact) - Decimal(repr(float(vnpy_value)))) < Decimal("0.005")
