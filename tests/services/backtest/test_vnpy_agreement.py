"""RedFire's engine + MovingAverageStrategy agree with vnpy's BacktestingEngine + DoubleMaStrategy,
and with vnpy's engine + RunningMaStrategy (bench/running_ma.py: the benchmarks' port of
MovingAverageStrategy to vnpy, O(1) averages), in RedFire's CTA engine too.

Same generated bars (tick 0.5, exact in binary floats), same cost model, DoubleMaStrategy's
parameters (10/20, 100-bar ArrayManager = warmup_ticks 100, 1 lot, limit at the close).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine, BacktestResult
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.cta.backtest import CtaBacktestEngine, CtaRun
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from bench.cta_reference import redfire_cta_trades, statistics_differences, vnpy_cta_trades
from bench.running_ma import RunningMaStrategy
from bench.vnpy_reference import (
    prepare_vnpy,
    redfire_trades,
    run_vnpy,
    same_to_the_cent,
    vnpy_bars,
    vnpy_trades,
)

BARS = random_walk_bars(12_000, seed=7)
COSTS = CostModel(
    capital=Decimal(1_000_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
    size=Decimal(10), pricetick=Decimal("0.5"),
)  # fmt: skip
MONEY_KEYS = ("end_balance", "max_drawdown", "total_net_pnl", "total_commission",
              "total_slippage", "total_turnover")  # fmt: skip
FLOAT_KEYS = ("total_return", "annual_return", "daily_return", "return_std", "sharpe_ratio",
              "ewm_sharpe", "return_drawdown_ratio", "max_ddpercent", "rgr_ratio")  # fmt: skip


@pytest.fixture(scope="module")
def vnpy_run() -> tuple[Any, dict[str, Any]]:
    engine = prepare_vnpy(BARS, vnpy_bars(BARS), COSTS, {"fast_window": 10, "slow_window": 20})
    return engine, run_vnpy(engine)


def redfire_run(order_type: str) -> BacktestResult:
    parameters = MovingAverageParameters.model_validate(
        {"fast_window": 10, "slow_window": 20, "warmup_ticks": 100, "fixed_size": "1",
         "order_type": order_type}
    )  # fmt: skip
    return BacktestEngine(COSTS).run(MovingAverageStrategy, parameters, BARS)


def test_same_trades_and_net_pnl_to_the_cent(vnpy_run: tuple[Any, dict[str, Any]]) -> None:
    engine, statistics = vnpy_run
    result = redfire_run("limit")
    theirs = vnpy_trades(engine)
    assert len(theirs) > 500
    # Nothing trades during the warm-up: the first fill follows the 100th bar.
    assert theirs[0][0] > BARS.datetimes[99]
    assert redfire_trades(BARS, result) == theirs
    assert same_to_the_cent(result.statistics["total_net_pnl"], statistics["total_net_pnl"])


def test_same_statistics(vnpy_run: tuple[Any, dict[str, Any]]) -> None:
    _, theirs = vnpy_run
    ours = redfire_run("limit").statistics
    for key in MONEY_KEYS:
        assert same_to_the_cent(ours[key], theirs[key]), key
    for key in FLOAT_KEYS:
        assert math.isclose(ours[key], theirs[key], rel_tol=1e-9, abs_tol=1e-12), key
    for key in ("total_days", "profit_days", "loss_days", "total_trade_count",
                "max_drawdown_duration"):  # fmt: skip
        assert ours[key] == theirs[key], key
    assert ours["start_date"] == theirs["start_date"].isoformat()


def test_market_orders_fill_at_the_next_open(vnpy_run: tuple[Any, dict[str, Any]]) -> None:
    engine, _ = vnpy_run
    result = redfire_run("market")
    fills = result.fills
    assert all(
        price == BARS.open[index] for index, price in zip(fills.bar_index, fills.price, strict=True)
    )
    # On these gap-free bars a limit at the close fills on the next bar too: same bars, sides.
    ours = [(BARS.datetimes[index], side.value) for index, side in zip(
        fills.bar_index, fills.side, strict=True)]  # fmt: skip
    assert ours == [(moment, side) for moment, side, _, _ in vnpy_trades(engine)]


def test_the_vnpy_port_trades_as_moving_average_strategy(
    vnpy_run: tuple[Any, dict[str, Any]],
) -> None:
    port = prepare_vnpy(BARS, vnpy_bars(BARS), COSTS, {}, RunningMaStrategy)
    theirs = run_vnpy(port)
    ours = redfire_run("limit")
    assert vnpy_trades(port) == vnpy_trades(vnpy_run[0])
    assert redfire_trades(BARS, ours) == vnpy_trades(port)
    assert statistics_differences(ours.statistics, theirs) == []


def test_the_vnpy_port_in_redfire_cta_engine_trades_as_in_vnpy() -> None:
    port = prepare_vnpy(BARS, vnpy_bars(BARS), COSTS, {}, RunningMaStrategy)
    theirs = run_vnpy(port)
    engine = CtaBacktestEngine(COSTS)
    ours = engine.run(RunningMaStrategy, CtaRun({}), BARS)
    assert len(ours.fills.price) > 500
    assert redfire_cta_trades(BARS, ours, engine.offsets) == vnpy_cta_trades(port)
    assert statistics_differences(ours.statistics, theirs) == []
