"""The daily result table of a backtest: vnpy's DailyResult per trading day, in exact Decimals.

vnpy marks to market once a day: for each day, the close is the last bar's close;
holding_pnl = start_pos * (close - pre_close) * size; each trade adds
pos_change * (close - price) * size to trading_pnl, volume * size * price to turnover,
turnover * rate to commission and volume * size * slippage to slippage;
net_pnl = trading_pnl + holding_pnl - commission - slippage. vnpy sums these in floats;
here they are exact (sums per day first, which exact arithmetic makes the same thing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np

from backend.models.enums import OrderSide
from backend.services.backtest.bars import BarSeries
from backend.services.backtest.orders import Fills

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class CostModel:
    """Contract and cost settings of a backtest (vnpy's set_parameters)."""

    capital: Decimal = Decimal(1_000_000)
    rate: Decimal = ZERO
    slippage: Decimal = ZERO
    size: Decimal = ONE
    pricetick: Decimal = ZERO


@dataclass(slots=True)
class _DayTrades:
    count: int = 0
    signed_volume: Decimal = ZERO
    signed_value: Decimal = ZERO
    value: Decimal = ZERO
    volume: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class DailyTable:
    """One entry per trading day in each column, oldest first (vnpy's daily DataFrame)."""

    date: list[date] = field(default_factory=list)
    close_price: list[Decimal] = field(default_factory=list)
    pre_close: list[Decimal] = field(default_factory=list)
    trade_count: list[int] = field(default_factory=list)
    start_pos: list[Decimal] = field(default_factory=list)
    end_pos: list[Decimal] = field(default_factory=list)
    turnover: list[Decimal] = field(default_factory=list)
    commission: list[Decimal] = field(default_factory=list)
    slippage: list[Decimal] = field(default_factory=list)
    trading_pnl: list[Decimal] = field(default_factory=list)
    holding_pnl: list[Decimal] = field(default_factory=list)
    total_pnl: list[Decimal] = field(default_factory=list)
    net_pnl: list[Decimal] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.date)


def _trades_by_day(bars: BarSeries, fills: Fills) -> dict[int, _DayTrades]:
    by_day: dict[int, _DayTrades] = {}
    fill_days = bars.days[np.asarray(fills.bar_index, dtype=np.int64)].tolist()
    for day, side, price, volume in zip(
        fill_days, fills.side, fills.price, fills.quantity, strict=True
    ):
        sums = by_day.get(day)
        if sums is None:
            sums = by_day[day] = _DayTrades()
        value = price * volume
        sums.count += 1
        sums.value += value
        sums.volume += volume
        if side is OrderSide.BUY:
            sums.signed_volume += volume
            sums.signed_value += value
        else:
            sums.signed_volume -= volume
            sums.signed_value -= value
    return by_day


def day_ends(bars: BarSeries) -> np.ndarray:
    """Index of the last bar of each trading day, one per date, in the order dates first appear.

    As vnpy's daily results, a dict keyed by date: bars whose timestamps change offset (from
    +08:00 to UTC, say) can show one date in two separate runs; it is still one day, closing
    at its last bar, and its trades are counted once.
    """
    days = bars.days
    if not len(days):
        return np.empty(0, dtype=np.int64)
    _, first = np.unique(days, return_index=True)
    _, from_end = np.unique(days[::-1], return_index=True)
    last = len(days) - 1 - from_end
    return last[np.argsort(first, kind="stable")]


def daily_results(bars: BarSeries, fills: Fills, costs: CostModel) -> DailyTable:
    """Mark to market at each day's last close, as vnpy's `calculate_result`."""
    table = DailyTable()
    by_day = _trades_by_day(bars, fills)
    pre_close, start_pos = ZERO, ZERO
    for last in day_ends(bars).tolist():
        day = int(bars.days[last])
        close = bars.close[last]
        # vnpy: no previous close on the first day -> 1 (start_pos is 0 then anyway).
        _append_day(
            table, costs, by_day.get(day) or _DayTrades(), close, pre_close or ONE, start_pos
        )
        table.date.append(date.fromordinal(day))
        pre_close, start_pos = close, table.end_pos[-1]
    return table


def _append_day(
    table: DailyTable,
    costs: CostModel,
    sums: _DayTrades,
    close: Decimal,
    pre_close: Decimal,
    start_pos: Decimal,
) -> None:
    size = costs.size
    holding = start_pos * (close - pre_close) * size
    trading = (close * sums.signed_volume - sums.signed_value) * size
    turnover = sums.value * size
    commission = turnover * costs.rate
    slippage = sums.volume * size * costs.slippage
    table.close_price.append(close)
    table.pre_close.append(pre_close)
    table.trade_count.append(sums.count)
    table.start_pos.append(start_pos)
    table.end_pos.append(start_pos + sums.signed_volume)
    table.turnover.append(turnover)
    table.commission.append(commission)
    table.slippage.append(slippage)
    table.trading_pnl.append(trading)
    table.holding_pnl.append(holding)
    table.total_pnl.append(trading + holding)
    table.net_pnl.append(trading + holding - commission - slippage)
