"""Benchmark: vnpy CTA strategies in RedFire's backtest vs vnpy's own BacktestingEngine.

Run: .venv/bin/python -m bench.bench_cta [--bars N] [--repeat R]

For DoubleMaStrategy and AtrRsiStrategy (vnpy_ctastrategy's own classes, default settings)
and RunningMaStrategy (bench/running_ma.py: O(1) averages, so its row is the engines' own cost
per bar), both engines replay the same seeded random walk of one-minute bars (tick 0.5) with
the same cost model, timed from bars in memory to finished statistics: RedFire's
`CtaBacktestEngine.run` (its BarSeries -> vnpy BarData, replay, fills, daily table,
statistics) against vnpy's `run_backtesting` + `calculate_result` + `calculate_statistics`
on a prebuilt BarData list (not timed). Each side's inputs are frozen out of the garbage
collector's view while it runs. Times are the process's CPU seconds (both runs are
single-threaded and CPU-bound; CPU time keeps other work on a shared machine out of the
ratio), best of `--repeat` runs taken in turn. The trades (datetime, direction, offset,
price, volume) must be identical and the statistics equal (money to the cent).
Results: a table on stdout, JSON in bench/results/cta.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from vnpy_ctastrategy.strategies.atr_rsi_strategy import AtrRsiStrategy
from vnpy_ctastrategy.strategies.double_ma_strategy import DoubleMaStrategy
from vnpy_ctastrategy.template import CtaTemplate

from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestResult
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.cta.backtest import CtaBacktestEngine, CtaRun
from bench.cta_reference import (
    prepare_cta,
    redfire_cta_trades,
    run_cta,
    statistics_differences,
    vnpy_cta_trades,
)
from bench.running_ma import RunningMaStrategy

RESULTS = Path(__file__).resolve().parent / "results" / "cta.json"
TARGET_RATIO = 1.5
# RunningMaStrategy costs nothing per bar, so its row is the engines' own cost, and RedFire's
# includes making each bar's vnpy BarData from its BarSeries, which vnpy's side is handed
# prebuilt: parity is its target (bench_backtest compares the engines on RedFire's own bars).
TARGETS: dict[str, float] = {"RunningMaStrategy": 1.0}
STRATEGIES: tuple[type[CtaTemplate], ...] = (DoubleMaStrategy, AtrRsiStrategy, RunningMaStrategy)
COSTS = CostModel(
    capital=Decimal(1_000_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
    size=Decimal(10), pricetick=Decimal("0.5"),
)  # fmt: skip


@dataclass
class Row:
    """One line of the table."""

    strategy: str
    engine: str
    bars: int
    seconds: float
    bars_per_second: float
    trades: int
    total_net_pnl: str


@contextmanager
def quiet_heap() -> Iterator[None]:
    """Collect, then freeze what exists: the collector never rescans the inputs mid-run."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_redfire(
    strategy_class: type[CtaTemplate], bars: BarSeries
) -> tuple[float, BacktestResult, list[Any]]:
    """Seconds for one full RedFire backtest, its result and its fills' offsets."""
    engine = CtaBacktestEngine(COSTS)
    with quiet_heap():
        started = time.process_time()
        result = engine.run(strategy_class, CtaRun({}), bars)
        return time.process_time() - started, result, engine.offsets


def run_vnpy(
    strategy_class: type[CtaTemplate], bars: BarSeries
) -> tuple[float, Any, dict[str, Any]]:
    """Seconds for one full vnpy backtest, its engine and its statistics."""
    engine = prepare_cta(bars, strategy_class, {}, COSTS)
    with quiet_heap():
        started = time.process_time()
        statistics = run_cta(engine)
        return time.process_time() - started, engine, statistics


def measure(
    strategy_class: type[CtaTemplate], bars: BarSeries, repeat: int
) -> tuple[Row, Row, list[str]]:
    """Best of `repeat` alternating runs of each side, and what disagrees (nothing, we hope)."""
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(run_redfire(strategy_class, bars))
        theirs.append(run_vnpy(strategy_class, bars))
    seconds, result, offsets = min(ours, key=lambda run: run[0])
    vnpy_seconds, engine, statistics = min(theirs, key=lambda run: run[0])
    problems = statistics_differences(result.statistics, statistics)
    if redfire_cta_trades(bars, result, offsets) != vnpy_cta_trades(engine):
        problems.append("trades differ")
    name, count = strategy_class.__name__, bars.bar_count
    rows = (
        Row(name, "RedFire CtaBacktestEngine", count, seconds, count / seconds,
            len(result.fills.price), result.statistics["total_net_pnl"]),
        Row(name, "vnpy BacktestingEngine", count, vnpy_seconds, count / vnpy_seconds,
            len(engine.trades), f"{statistics['total_net_pnl']:.2f}"),
    )  # fmt: skip
    return rows[0], rows[1], problems


def report(results: list[tuple[Row, Row, list[str]]]) -> bool:
    """Print the table; True when every ratio meets the target and every result agrees."""
    print(f"{'strategy':24} {'engine':27} {'bars':>8} {'cpu s':>8} {'bars/s':>9} "
          f"{'trades':>7} {'net pnl':>14} {'ratio':>6}")  # fmt: skip
    passed = True
    payload = []
    for redfire, vnpy, problems in results:
        ratio = redfire.bars_per_second / vnpy.bars_per_second
        for row in (redfire, vnpy):
            shown = f"{ratio:.2f}x" if row is redfire else ""
            print(f"{row.strategy:24} {row.engine:27} {row.bars:>8} {row.seconds:>8.3f} "
                  f"{row.bars_per_second:>9,.0f} {row.trades:>7} {row.total_net_pnl:>14} "
                  f"{shown:>6}")  # fmt: skip
        target = TARGETS.get(redfire.strategy, TARGET_RATIO)
        ok = ratio >= target and not problems
        passed &= ok
        print(f"  {redfire.strategy}: ratio {ratio:.2f}x (target >= {target}x), trades and "
              f"statistics {'agree' if not problems else 'DIFFER: ' + '; '.join(problems)}: "
              f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
        payload.append({"rows": [asdict(redfire), asdict(vnpy)], "ratio": ratio,
                        "problems": problems})  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return passed


def main() -> int:
    """Parse arguments, measure each strategy, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    bars = random_walk_bars(arguments.bars)
    results = [measure(strategy_class, bars, arguments.repeat) for strategy_class in STRATEGIES]
    return 0 if report(results) else 1


if __name__ == "__main__":
    sys.exit(main())
