"""A running backtest stops when told to (its backtest was cancelled): within STOP_CHECK_BARS
bars, on both engines, and a run never told to stop gives exactly the unsegmented result."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import pytest

from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import (
    STOP_CHECK_BARS,
    BacktestCancelledError,
    BacktestEngine,
)
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.cta.backtest import CtaBacktestEngine, CtaRun
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from bench.running_ma import RunningMaStrategy

BARS = random_walk_bars(STOP_CHECK_BARS * 2 + 1000, seed=3)
COSTS = CostModel(
    capital=Decimal(1_000_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
    size=Decimal(10), pricetick=Decimal("0.5"),
)  # fmt: skip
PARAMETERS = MovingAverageParameters.model_validate({"order_type": "limit"})


class KeptStrategy(MovingAverageStrategy):
    """MovingAverageStrategy that lets the test see the instance the engine made."""

    made: ClassVar[list[KeptStrategy]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        KeptStrategy.made.append(self)


def stop_after(answers: int) -> Any:
    """A should_stop that says no `answers` times, then yes."""
    asked: list[None] = []

    def should_stop() -> bool:
        asked.append(None)
        return len(asked) > answers

    return should_stop


def test_a_run_told_to_stop_stops_at_the_next_segment() -> None:
    KeptStrategy.made.clear()
    with pytest.raises(BacktestCancelledError):
        BacktestEngine(COSTS).run(KeptStrategy, PARAMETERS, BARS, should_stop=stop_after(1))
    assert KeptStrategy.made[0].averages.count == STOP_CHECK_BARS


def test_a_run_never_told_to_stop_is_the_unsegmented_run() -> None:
    whole = BacktestEngine(COSTS).run(MovingAverageStrategy, PARAMETERS, BARS)
    segmented = BacktestEngine(COSTS).run(
        MovingAverageStrategy, PARAMETERS, BARS, should_stop=lambda: False
    )
    assert len(whole.fills.price) > 1000
    assert segmented.fills == whole.fills
    assert segmented.statistics == whole.statistics


def test_a_cta_run_told_to_stop_stops_at_the_next_segment() -> None:
    engine = CtaBacktestEngine(COSTS)
    with pytest.raises(BacktestCancelledError):
        engine.run(RunningMaStrategy, CtaRun({}), BARS, should_stop=stop_after(1))
    assert engine.index == STOP_CHECK_BARS - 1  # the last bar replayed before the stop
