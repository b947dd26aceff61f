"""A date that shows up in two runs of bars (timestamps switching offset) is one daily row.

The bars below are gap-free minutes, written in +08:00 until 18:00 UTC on the first day and
in UTC after: 2024-01-03 (+08:00) comes before the rest of 2024-01-02 (UTC). vnpy keeps one
daily result per date (a dict); so does RedFire, with every trade counted once.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine, BacktestResult
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from bench.vnpy_reference import prepare_vnpy, run_vnpy, same_to_the_cent, vnpy_bars

CHINA = timezone(timedelta(hours=8))
COSTS = CostModel(
    capital=Decimal(1_000_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
    size=Decimal(10), pricetick=Decimal("0.5"),
)  # fmt: skip


def switching_offsets(bars: BarSeries, switch: int) -> BarSeries:
    """The same instants, in +08:00 before bar `switch` and in UTC from it on."""
    datetimes = [
        moment.astimezone(CHINA if index < switch else UTC)
        for index, moment in enumerate(bars.datetimes)
    ]
    prices = (bars.open, bars.high, bars.low, bars.close)
    return BarSeries.build(bars.symbol, datetimes, prices, bars.volume)


BARS = switching_offsets(random_walk_bars(4 * 1440, seed=3), switch=18 * 60)


@pytest.fixture(scope="module")
def ours() -> BacktestResult:
    parameters = MovingAverageParameters.model_validate(
        {"fast_window": 10, "slow_window": 20, "warmup_ticks": 100, "fixed_size": "1",
         "order_type": "limit"}
    )  # fmt: skip
    return BacktestEngine(COSTS).run(MovingAverageStrategy, parameters, BARS)


@pytest.fixture(scope="module")
def theirs() -> tuple[Any, dict[str, Any]]:
    engine = prepare_vnpy(BARS, vnpy_bars(BARS), COSTS, {"fast_window": 10, "slow_window": 20})
    return engine, run_vnpy(engine)


def test_the_input_really_repeats_a_date_in_two_runs() -> None:
    runs = [BARS.days[0]]
    for day in BARS.days.tolist():
        if day != runs[-1]:
            runs.append(day)
    assert len(runs) > len(set(runs))


def test_one_row_per_date_and_each_trade_counted_once(ours: BacktestResult) -> None:
    table = ours.daily
    assert len(set(table.date)) == len(table.date)
    assert sum(table.trade_count) == len(ours.fills.price) == ours.statistics["total_trade_count"]
    assert table.end_pos[-1] == ours.final_position


def test_the_daily_table_and_statistics_agree_with_vnpy(
    ours: BacktestResult, theirs: tuple[Any, dict[str, Any]]
) -> None:
    engine, statistics = theirs
    frame = engine.daily_df
    assert ours.daily.date == list(frame.index)
    assert ours.daily.trade_count == [int(count) for count in frame["trade_count"]]
    for mine, vnpy_close in zip(ours.daily.close_price, frame["close_price"], strict=True):
        assert float(mine) == vnpy_close
    for mine, vnpy_pos in zip(ours.daily.end_pos, frame["end_pos"], strict=True):
        assert float(mine) == vnpy_pos
    assert ours.statistics["total_trade_count"] == statistics["total_trade_count"]
    for key in ("end_balance", "total_net_pnl", "total_commission", "total_slippage"):
        assert same_to_the_cent(ours.statistics[key], statistics[key]), key
