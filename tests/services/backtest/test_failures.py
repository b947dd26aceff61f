"""A backtest that cannot finish says what failed and where, in words; large amounts do not fail."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from backend.services.backtest.bars import parse_csv_bars
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine, BacktestFailedError
from backend.services.backtest.results import stored_result
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from tests.services.strategy.support import (
    DecimalTroubleStrategy,
    ExplodingStrategy,
    NoParameters,
)

# Blank lines 2 and 5: the third bar is on line 6.
CSV = b"""datetime,open,high,low,close,volume

2024-01-02T09:00:00,10,10,10,10,1
2024-01-02T09:01:00,11,11,11,11,1

2024-01-02T09:02:00,12,12,12,12,1
2024-01-02T09:03:00,13,13,13,13,1
"""
BARS = parse_csv_bars(CSV, symbol="rb2501.SHFE", max_bars=10)
EIGHT_PLACES = re.compile(r"^-?\d+\.\d{8}$")


@pytest.mark.parametrize(
    ("strategy_class", "problem"),
    [
        (ExplodingStrategy, "ZeroDivisionError: boom on tick 3"),
        (DecimalTroubleStrategy, "a decimal division with no defined result (0/0)"),
    ],
)
def test_a_strategy_failure_names_the_bar_and_its_line(strategy_class: type, problem: str) -> None:
    engine = BacktestEngine(CostModel())
    with pytest.raises(BacktestFailedError) as caught:
        engine.run(strategy_class, NoParameters(), BARS)
    assert str(caught.value) == (
        f"line 6, bar 3 (2024-01-02T09:02:00+00:00): {strategy_class.__name__} failed: {problem}"
    )


def test_amounts_beyond_twenty_digits_are_stored_not_failed() -> None:
    """It failed as `InvalidOperation: [<class 'decimal.InvalidOperation'>]` when stored."""
    costs = CostModel(
        capital=Decimal("1e15"), rate=Decimal("0.5"), size=Decimal("9999999999999999"),
        pricetick=Decimal("0.5"),
    )  # fmt: skip
    bars = random_walk_bars(600, seed=3, start_price=Decimal("1e15"))
    parameters = MovingAverageParameters.model_validate(
        {"fast_window": 5, "slow_window": 12, "warmup_ticks": 20, "order_type": "limit"}
    )
    result = BacktestEngine(costs).run(MovingAverageStrategy, parameters, bars)
    stored = stored_result(bars, result, costs, max_trades=10)
    assert stored.trades
    assert all(EIGHT_PLACES.match(trade["commission"]) for trade in stored.trades)
    assert len(stored.trades[0]["commission"].split(".")[0]) > 20
    assert EIGHT_PLACES.match(stored.statistics["total_turnover"])
