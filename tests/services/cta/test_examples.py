"""The README's example strategies (examples/strategies) load from a directory and backtest."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from backend.services.backtest.daily import CostModel
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.strategies import run_strategy_backtest
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.registry import load_registry
from bench.cta_reference import prepare_cta, run_cta, statistics_differences, vnpy_cta_trades

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "strategies"
BARS = random_walk_bars(5 * 1440, seed=21)
START = BARS.datetimes[0] + timedelta(days=1)
COSTS = CostModel(rate=Decimal("0.0001"), slippage=Decimal("0.5"), size=Decimal(10),
                  pricetick=Decimal("0.5"))  # fmt: skip


def test_both_examples_load_and_trade_in_a_backtest() -> None:
    registry = load_registry([EXAMPLES])
    entries = {entry.class_name: entry for entry in registry.describe()}
    for name, kind in (("PriceChannelStrategy", "redfire"), ("DonchianCtaStrategy", "cta")):
        entry = entries[name]
        assert entry.available, entry.reason
        assert entry.kind == kind
        assert entry.source == str(
            EXAMPLES / f"{'price_channel' if kind == 'redfire' else 'donchian_cta'}.py"
        )
        parameters = registry.validate(name, {"fixed_size": 2})
        run = run_strategy_backtest(entry, parameters, BARS, COSTS, RatioSettings(), START)
        assert run.bars.datetimes[0] == START
        assert len(run.result.fills.price) > 20, name
        assert set(run.result.fills.quantity) <= {Decimal(2), Decimal(4)}


def test_the_cta_example_trades_as_in_vnpy() -> None:
    registry = load_registry([EXAMPLES])
    entry = registry.entry("DonchianCtaStrategy")
    assert entry.strategy_class is not None
    vnpy_engine = prepare_cta(BARS, entry.strategy_class, {}, COSTS, START)
    theirs = run_cta(vnpy_engine)
    run = run_strategy_backtest(entry, registry.validate("DonchianCtaStrategy", {}), BARS, COSTS,
                                RatioSettings(), START)  # fmt: skip
    ours = [
        (run.bars.datetimes[index], price, offset)
        for index, price, offset in zip(
            run.result.fills.bar_index, run.result.fills.price, run.offsets or [], strict=True
        )
    ]
    assert ours == [
        (moment, Decimal(repr(price)), offset.lower())
        for moment, _, offset, price, _ in vnpy_cta_trades(vnpy_engine)
    ]
    assert statistics_differences(run.result.statistics, theirs) == []
