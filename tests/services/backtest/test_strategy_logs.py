"""A backtest keeps a strategy's log lines in memory: a line per signal on stderr would cost
more than the replay (MovingAverageStrategy logs each cross)."""

from __future__ import annotations

from structlog.testing import capture_logs

from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BACKTEST_LOG_LINES, BacktestEngine
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)


class _Kept(MovingAverageStrategy):
    """MovingAverageStrategy, remembered so the test can read its log lines."""

    last: _Kept | None = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _Kept.last = self


def test_a_backtest_keeps_the_strategys_log_lines_off_the_log() -> None:
    bars = random_walk_bars(3000, seed=11)
    with capture_logs() as logged:
        result = BacktestEngine(CostModel()).run(_Kept, MovingAverageParameters(), bars)
    assert result.fills, "the strategy crossed and traded"
    assert not [entry for entry in logged if entry["event"] == "strategy_log"]
    strategy = _Kept.last
    assert strategy is not None
    assert strategy.log_lines is not None
    assert 0 < len(strategy.log_lines) <= BACKTEST_LOG_LINES
    assert "cross" in strategy.log_lines[-1]
