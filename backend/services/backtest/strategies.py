"""How each kind of strategy class runs in a backtest: RedFire's BaseStrategy or a vnpy CTA one.

Both replay the bars from `settings.start` on (all of them without a start) and produce the same
BacktestResult; a CTA strategy can also warm up on the bars before the start (`load_bar`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine, BacktestResult
from backend.services.backtest.history_feed import BarChunk
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.window import split_at
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.classes import StrategyClassEntry, StrategyKind


@dataclass(frozen=True, slots=True)
class StrategyBacktest:
    """A finished replay: the bars it replayed, its result, and each fill's vnpy offset (CTA)."""

    bars: BarSeries
    result: BacktestResult
    offsets: list[str] | None = None


def run_strategy_backtest(
    entry: StrategyClassEntry,
    parameters: BaseModel,
    bars: BarSeries,
    costs: CostModel,
    ratios: RatioSettings,
    start: datetime | None = None,
    feed: Iterable[BarChunk] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StrategyBacktest:
    """Replay `bars` (from `start` on) through a fresh instance of the entry's class.

    With a `feed` of stored bars (`bars` empty), a RedFire strategy replays each chunk as it
    arrives; a CTA strategy, or a `start` to split at, needs them all first. `should_stop`
    is asked as the bars are replayed: BacktestCancelledError once it says so.
    """
    strategy_class = entry.strategy_class
    assert strategy_class is not None
    if feed is not None and (entry.kind is StrategyKind.CTA or start is not None):
        for chunk in feed:
            bars.extend(chunk)
        bars, feed = bars.with_days(), None
    if entry.kind is StrategyKind.CTA:
        from backend.services.cta.backtest import CtaBacktestEngine, CtaRun

        engine = CtaBacktestEngine(costs, ratios)
        run = CtaRun(parameters.model_dump(), start)
        result = engine.run(strategy_class, run, bars, should_stop)
        offsets = [offset.name.lower() for offset in engine.offsets]
        return StrategyBacktest(split_at(bars, start)[1], result, offsets)
    assert issubclass(strategy_class, BaseStrategy)
    replay = split_at(bars, start)[1]
    result = BacktestEngine(costs, ratios).run(
        strategy_class, parameters, replay, feed, should_stop
    )
    return StrategyBacktest(replay if feed is None else replay.with_days(), result)
