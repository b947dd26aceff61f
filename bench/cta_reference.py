"""vnpy_ctastrategy's BacktestingEngine running any CtaTemplate, next to RedFire's CTA engine.

Shared by `bench.bench_cta` and the agreement tests (tests/services/cta). vnpy's engine
normally reads its bars from its database: here its `history_data` is set directly, and the
database `load_bar` queries (bars in [start - days, start - one interval], both ends
included, as vnpy_sqlite selects them) is a list in memory. vnpy's own `load_bar` runs
unchanged around that query.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import vnpy_ctastrategy.backtesting as vnpy_backtesting
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData
from vnpy_ctastrategy.backtesting import BacktestingEngine
from vnpy_ctastrategy.template import CtaTemplate

from backend.models.enums import OrderSide
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestResult
from backend.services.backtest.window import split_at
from bench.vnpy_reference import vnpy_bars

# (bar datetime, direction, offset, price, volume) of one fill, comparable across engines.
CtaTradeKey = tuple[datetime, str, str, float, float]
MONEY_KEYS = ("end_balance", "max_drawdown", "total_net_pnl", "total_commission",
              "total_slippage", "total_turnover", "daily_net_pnl")  # fmt: skip
RATIO_KEYS = ("total_return", "annual_return", "daily_return", "return_std", "sharpe_ratio",
              "ewm_sharpe", "return_drawdown_ratio", "max_ddpercent")  # fmt: skip
COUNT_KEYS = ("total_days", "profit_days", "loss_days", "total_trade_count",
              "max_drawdown_duration")  # fmt: skip


class MemoryBacktestingEngine(BacktestingEngine):  # type: ignore[misc]
    """vnpy's engine, silent, with its bar database replaced by a list of bars."""

    database: list[BarData]

    def output(self, msg: str) -> None:
        """Say nothing."""

    def load_bar(
        self, vt_symbol: str, days: int, interval: Interval, callback: Any, use_database: bool
    ) -> list[BarData]:
        """vnpy's own load_bar, its database query answered from `database`."""
        with _database(self.database):
            bars: list[BarData] = super().load_bar(
                vt_symbol, days, interval, callback, use_database
            )
        return bars


@contextmanager
def _database(bars: list[BarData]) -> Iterator[None]:
    def load_bar_data(
        symbol: str, exchange: Exchange, interval: Interval, start: datetime, end: datetime
    ) -> list[BarData]:
        return [bar for bar in bars if start <= bar.datetime <= end]

    original = vnpy_backtesting.load_bar_data
    vnpy_backtesting.load_bar_data = load_bar_data
    try:
        yield
    finally:
        vnpy_backtesting.load_bar_data = original


def prepare_cta(
    bars: BarSeries,
    strategy_class: type[CtaTemplate],
    setting: dict[str, Any],
    costs: CostModel,
    start: datetime | None = None,
) -> MemoryBacktestingEngine:
    """vnpy's engine with `strategy_class`: bars from `start` replayed, the earlier ones its
    database (what `load_bar` can warm the strategy up with)."""
    warmup, replay = split_at(bars, start)
    engine = MemoryBacktestingEngine()
    engine.set_parameters(
        vt_symbol=bars.symbol, interval=Interval.MINUTE, start=replay.datetimes[0],
        end=replay.datetimes[-1], rate=float(costs.rate), slippage=float(costs.slippage),
        size=float(costs.size), pricetick=float(costs.pricetick), capital=int(costs.capital),
    )  # fmt: skip
    engine.add_strategy(strategy_class, setting)
    engine.history_data = vnpy_bars(replay)
    engine.database = vnpy_bars(warmup)
    return engine


def run_cta(engine: MemoryBacktestingEngine) -> dict[str, Any]:
    """Run, compute the daily table and the statistics (vnpy's three calls)."""
    engine.run_backtesting()
    engine.calculate_result()
    statistics: dict[str, Any] = engine.calculate_statistics(output=False)
    return statistics


def vnpy_cta_trades(engine: MemoryBacktestingEngine) -> list[CtaTradeKey]:
    """vnpy's fills, oldest first."""
    return [
        (trade.datetime, trade.direction.name, trade.offset.name, trade.price, trade.volume)
        for trade in engine.trades.values()
    ]


def redfire_cta_trades(
    bars: BarSeries, result: BacktestResult, offsets: list[Any]
) -> list[CtaTradeKey]:
    """RedFire's fills in the same shape (`bars`: the replayed ones)."""
    fills = result.fills
    return [
        (bars.datetimes[index], "LONG" if side is OrderSide.BUY else "SHORT", offset.name,
         float(price), float(volume))
        for index, side, price, volume, offset in zip(
            fills.bar_index, fills.side, fills.price, fills.quantity, offsets, strict=True
        )
    ]  # fmt: skip


def to_the_cent(exact: str | Decimal, vnpy_value: float) -> bool:
    """RedFire's exact amount and vnpy's float agree to the cent."""
    return abs(Decimal(exact) - Decimal(repr(float(vnpy_value)))) < Decimal("0.005")


def statistics_differences(
    ours: dict[str, Any], theirs: dict[str, Any], *, ratio_tolerance: float = 1e-9
) -> list[str]:
    """Every statistic that disagrees: money to the cent, counts exactly, ratios to 1e-9.

    The API shows ratios at 8 places: compare what it answers with `ratio_tolerance=1e-8`.
    """
    problems = []
    for key in MONEY_KEYS:
        if not to_the_cent(ours[key], theirs[key]):
            problems.append(f"{key}: {ours[key]} vs {theirs[key]}")
    for key in COUNT_KEYS:
        if ours[key] != theirs[key]:
            problems.append(f"{key}: {ours[key]} vs {theirs[key]}")
    for key in RATIO_KEYS:
        mine, vnpy = float(ours[key]), float(theirs[key])
        if abs(mine - vnpy) > ratio_tolerance * max(1.0, abs(vnpy)):
            problems.append(f"{key}: {mine} vs {vnpy}")
    return problems
