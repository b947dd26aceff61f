"""Every strategy shipped in vnpy_ctastrategy: RedFire's CTA engine agrees with vnpy's own.

vnpy_ctastrategy's BacktestingEngine and RedFire's CtaBacktestEngine run the same class with
the same (default) setting on the same bars: 11 days before the start as the history
`load_bar(10)` / `load_bar(20)` warms up on, then 10 days replayed. Trades must be identical
(bar datetime, direction, offset, price, volume) and the statistics equal: money to the cent,
counts exactly, ratios to 1e-9.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import timedelta
from decimal import Decimal

import pytest
import vnpy_ctastrategy.strategies
from vnpy_ctastrategy.template import CtaTemplate

from backend.services.backtest.daily import CostModel
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.backtest.window import split_at
from backend.services.cta.backtest import CtaBacktestEngine, CtaRun
from backend.services.strategy.registry import default_registry
from bench.cta_reference import (
    prepare_cta,
    redfire_cta_trades,
    run_cta,
    statistics_differences,
    vnpy_cta_trades,
)

BARS = random_walk_bars(21 * 1440, seed=11)
START = BARS.datetimes[0] + timedelta(days=11, minutes=7)
COSTS = CostModel(
    capital=Decimal(1_000_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
    size=Decimal(10), pricetick=Decimal("0.5"),
)  # fmt: skip
# TestStrategy is vnpy's live order test: it acts on ticks only, so on bars it never trades.
TICK_ONLY = {"TestStrategy"}


def shipped_strategies() -> list[type[CtaTemplate]]:
    """Every CtaTemplate subclass defined in vnpy_ctastrategy.strategies."""
    found = []
    package = vnpy_ctastrategy.strategies
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for _, member in inspect.getmembers(module, inspect.isclass):
            if issubclass(member, CtaTemplate) and member.__module__ == module.__name__:
                found.append(member)
    return found


SHIPPED = shipped_strategies()


def test_every_shipped_strategy_is_listed() -> None:
    names = {cls.__name__ for cls in SHIPPED}
    assert names >= {"AtrRsiStrategy", "BollChannelStrategy", "DoubleMaStrategy",
                     "DualThrustStrategy", "KingKeltnerStrategy", "MultiSignalStrategy",
                     "MultiTimeframeStrategy", "TurtleSignalStrategy"}  # fmt: skip
    listed = {entry.class_name: entry for entry in default_registry().describe()}
    for name in names:
        assert listed[name].kind == "cta"
        assert listed[name].available, listed[name].reason
        assert listed[name].source == "vnpy_ctastrategy"


@pytest.mark.parametrize("strategy_class", SHIPPED, ids=lambda cls: cls.__name__)
def test_same_trades_and_statistics_as_vnpy(strategy_class: type[CtaTemplate]) -> None:
    vnpy_engine = prepare_cta(BARS, strategy_class, {}, COSTS, START)
    theirs = run_cta(vnpy_engine)
    engine = CtaBacktestEngine(COSTS)
    result = engine.run(strategy_class, CtaRun({}, START), BARS)
    replay = split_at(BARS, START)[1]
    vnpy_trades = vnpy_cta_trades(vnpy_engine)
    if strategy_class.__name__ not in TICK_ONLY:
        assert len(vnpy_trades) >= 10, "the bars must make the strategy trade"
    assert redfire_cta_trades(replay, result, engine.offsets) == vnpy_trades
    assert statistics_differences(result.statistics, theirs) == []
    assert result.final_position == Decimal(repr(float(vnpy_engine.strategy.pos)))
