"""Daily results and statistics against a case computed by hand, with vnpy's formulas."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from backend.models.enums import OrderSide
from backend.services.backtest.daily import CostModel, daily_results
from backend.services.backtest.orders import Fills
from backend.services.backtest.statistics import RatioSettings, calculate_statistics, equity_curve
from tests.services.backtest.conftest import make_bars

COSTS = CostModel(
    capital=Decimal(1000), rate=Decimal("0.001"), slippage=Decimal("0.5"), size=Decimal(10)
)
# One bar a day, closing at 100, 102, 101. Buy 1 at 100 on day 1, sell 1 at 101.5 on day 3.
BARS = make_bars(
    [("100", "100", "100", "100"), ("102", "102", "102", "102"), ("101", "102", "101", "101")],
    step=timedelta(days=1),
)
FILLS = Fills(
    bar_index=[0, 2],
    side=[OrderSide.BUY, OrderSide.SELL],
    price=[Decimal(100), Decimal("101.5")],
    quantity=[Decimal(1), Decimal(1)],
    order_id=[1, 2],
)


def test_daily_table_marks_to_market_each_close() -> None:
    table = daily_results(BARS, FILLS, COSTS)
    # Day 1: commission 100*10*0.001 = 1, slippage 1*10*0.5 = 5.
    # Day 2: holding 1*(102-100)*10 = 20. Day 3: holding -10, trading -1*(101-101.5)*10 = 5,
    # commission 1.015, slippage 5.
    assert table.net_pnl == [Decimal(-6), Decimal(20), Decimal("-11.015")]
    assert table.holding_pnl == [Decimal(0), Decimal(20), Decimal(-10)]
    assert table.trading_pnl == [Decimal(0), Decimal(0), Decimal(5)]
    assert table.end_pos == [Decimal(1), Decimal(1), Decimal(0)]
    assert table.trade_count == [1, 0, 1]
    assert table.pre_close == [Decimal(1), Decimal(100), Decimal(102)]


def test_statistics_follow_vnpy_formulas() -> None:
    table = daily_results(BARS, FILLS, COSTS)
    curve = equity_curve(table, COSTS.capital)
    stats = calculate_statistics(table, curve, COSTS.capital, RatioSettings())
    assert curve.balance == [Decimal(994), Decimal(1014), Decimal("1002.985")]
    assert stats["total_net_pnl"] == "2.98500000"
    assert stats["end_balance"] == "1002.98500000"
    assert stats["max_drawdown"] == "-11.01500000"
    assert stats["total_commission"] == "2.01500000"
    assert stats["total_slippage"] == "10.00000000"
    assert stats["total_turnover"] == "2015.00000000"
    assert (stats["total_days"], stats["profit_days"], stats["loss_days"]) == (3, 1, 2)
    assert (stats["total_trade_count"], stats["max_drawdown_duration"]) == (2, 1)
    assert (stats["start_date"], stats["end_date"]) == ("2024-03-04", "2024-03-06")
    assert math.isclose(stats["total_return"], 0.2985)
    assert math.isclose(stats["annual_return"], 0.2985 / 3 * 240)
    assert math.isclose(stats["max_ddpercent"], -11.015 / 1014 * 100)
    returns = [math.log(994 / 1000), math.log(1014 / 994), math.log(1002.985 / 1014)]
    mean = sum(returns) / 3
    std = math.sqrt(sum((value - mean) ** 2 for value in returns) / 2)
    assert math.isclose(stats["daily_return"], mean * 100)
    assert math.isclose(stats["return_std"], std * 100)
    assert math.isclose(stats["sharpe_ratio"], mean / std * math.sqrt(240))
    assert math.isclose(stats["return_drawdown_ratio"], -0.2985 / stats["max_ddpercent"])


def test_a_balance_at_or_below_zero_zeroes_the_statistics_as_vnpy() -> None:
    costs = CostModel(capital=Decimal(5), rate=COSTS.rate, slippage=COSTS.slippage, size=COSTS.size)
    table = daily_results(BARS, FILLS, costs)
    curve = equity_curve(table, costs.capital)
    stats = calculate_statistics(table, curve, costs.capital, RatioSettings())
    assert stats["total_days"] == 0
    assert stats["sharpe_ratio"] == 0.0
    assert stats["total_net_pnl"] == "0.00000000"
