"""Benchmark: RedFire's BacktestEngine vs vnpy's BacktestingEngine, the same strategy on both.

Run: .venv/bin/python -m bench.bench_backtest [--bars N] [--repeat R]

The engine comparison: RedFire's `BacktestEngine` + MovingAverageStrategy against vnpy's
`BacktestingEngine` + RunningMaStrategy (bench/running_ma.py, MovingAverageStrategy ported to
vnpy: O(1) running sums, the same signals). Both strategies cost next to nothing per bar, so
the ratio is the engines' own (target >= 2x): what every combination of a parameter sweep
pays per bar. The reference row is vnpy's own DoubleMaStrategy (ArrayManager + talib on every
bar), which trades the same (target >= 5x).

All three replay the same seeded random walk of one-minute bars (tick 0.5, exact in binary
floating point, so vnpy's float sums are exact too; each bar opens at the previous close)
with the same cost model, timed from loaded bars to finished statistics: RedFire's
`BacktestEngine.run` (replay, fills, daily table, statistics) against vnpy's
`run_backtesting` + `calculate_result` + `calculate_statistics`. Building the inputs (the
BarSeries and the ReplayTick of each bar, which a series builds once and every replay of it
shares; vnpy's BarData list, which its `load_bar_data` caches for the same reason) is not
timed, and they are frozen out of the garbage collector's view during a run. What building
the ticks costs is printed beneath the table. Times are the process's CPU seconds
(single-threaded and CPU-bound: CPU time keeps other work on a shared machine out of the
ratio), best of `--repeat` rounds, each round running the three in turn, back to back.
The trades (time, side, price, volume) must be identical and the statistics equal (money
to the cent).
Results: a table on stdout, JSON in bench/results/backtest.json.
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

from vnpy.trader.object import BarData
from vnpy_ctastrategy.strategies.double_ma_strategy import DoubleMaStrategy
from vnpy_ctastrategy.template import CtaTemplate

from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine, BacktestResult
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from bench.cta_reference import statistics_differences
from bench.running_ma import RunningMaStrategy
from bench.vnpy_reference import prepare_vnpy, redfire_trades, run_vnpy, vnpy_bars, vnpy_trades

RESULTS = Path(__file__).resolve().parent / "results" / "backtest.json"
# vnpy's side of each comparison and the ratio RedFire must reach against it.
TARGETS: tuple[tuple[type[CtaTemplate], float], ...] = (
    (RunningMaStrategy, 2.0),
    (DoubleMaStrategy, 5.0),
)
COSTS = CostModel(
    capital=Decimal(1_000_000),
    rate=Decimal("0.0001"),
    slippage=Decimal("0.5"),
    size=Decimal(10),
    pricetick=Decimal("0.5"),
)


@dataclass
class Row:
    """One line of the table."""

    implementation: str
    bars: int
    seconds: float
    bars_per_second: float
    trades: int
    total_net_pnl: str


@dataclass
class Comparison:
    """RedFire against one vnpy strategy: the ratio, its target, what disagrees."""

    vnpy: Row
    ratio: float
    target: float
    problems: list[str]


@contextmanager
def quiet_heap() -> Iterator[None]:
    """Collect, then freeze what exists: the garbage collector then never rescans the inputs
    (a million bars on each side) while a run is timed; each side's own garbage still counts."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_redfire(bars: BarSeries) -> tuple[float, BacktestResult]:
    """CPU seconds for one full RedFire backtest, and its result."""
    parameters = MovingAverageParameters.model_validate({"order_type": "limit"})
    engine = BacktestEngine(COSTS)
    with quiet_heap():
        started = time.process_time()
        result = engine.run(MovingAverageStrategy, parameters, bars)
        return time.process_time() - started, result


def run_vnpy_once(
    strategy_class: type[CtaTemplate], bars: BarSeries, history: list[BarData]
) -> tuple[float, Any, dict[str, Any]]:
    """CPU seconds for one full vnpy backtest, its engine and its statistics."""
    engine = prepare_vnpy(bars, history, COSTS, {}, strategy_class)
    with quiet_heap():
        started = time.process_time()
        statistics = run_vnpy(engine)
        return time.process_time() - started, engine, statistics


def measure(count: int, repeat: int) -> tuple[Row, list[Comparison], float]:
    """Best of `repeat` rounds (RedFire, then each vnpy strategy), the comparisons, and the
    CPU seconds building the series' ReplayTicks took (once, before the rounds)."""
    bars = random_walk_bars(count)
    started = time.process_time()
    bars.ticks()
    tick_seconds = time.process_time() - started
    history = vnpy_bars(bars)
    ours: list[tuple[float, BacktestResult]] = []
    theirs: dict[type[CtaTemplate], list[tuple[float, Any, dict[str, Any]]]] = {
        strategy_class: [] for strategy_class, _ in TARGETS
    }
    for _ in range(repeat):
        ours.append(run_redfire(bars))
        for strategy_class, runs in theirs.items():
            runs.append(run_vnpy_once(strategy_class, bars, history))
    seconds, result = min(ours, key=lambda run: run[0])
    net_pnl = result.statistics["total_net_pnl"]
    redfire = Row("RedFire BacktestEngine + MovingAverageStrategy", count, seconds,
                  count / seconds, len(result.fills.price), net_pnl)  # fmt: skip
    comparisons = []
    for strategy_class, target in TARGETS:
        vnpy_seconds, engine, statistics = min(theirs[strategy_class], key=lambda run: run[0])
        problems = statistics_differences(result.statistics, statistics)
        if redfire_trades(bars, result) != vnpy_trades(engine):
            problems.append("trades differ")
        vnpy = Row(f"vnpy BacktestingEngine + {strategy_class.__name__}", count, vnpy_seconds,
                   count / vnpy_seconds, len(engine.trades),
                   f"{statistics['total_net_pnl']:.2f}")  # fmt: skip
        ratio = redfire.bars_per_second / vnpy.bars_per_second
        comparisons.append(Comparison(vnpy, ratio, target, problems))
    return redfire, comparisons, tick_seconds


def report(redfire: Row, comparisons: list[Comparison], tick_seconds: float) -> bool:
    """Print the table; True when every target is met and every result agrees."""
    print(f"{'implementation':50} {'bars':>9} {'cpu s':>8} {'bars/s':>10} {'trades':>7} "
          f"{'net pnl':>17} {'ratio':>6}")  # fmt: skip
    for row, ratio in [(redfire, "")] + [(c.vnpy, f"{c.ratio:.2f}x") for c in comparisons]:
        print(f"{row.implementation:50} {row.bars:>9} {row.seconds:>8.3f} "
              f"{row.bars_per_second:>10,.0f} {row.trades:>7} {row.total_net_pnl:>17} "
              f"{ratio:>6}")  # fmt: skip
    print(f"  building RedFire's {redfire.bars:,} ReplayTicks (once per series, an input like "
          f"vnpy's BarData list): {tick_seconds:.3f} cpu s")  # fmt: skip
    passed = True
    for comparison in comparisons:
        ok = comparison.ratio >= comparison.target and not comparison.problems
        passed &= ok
        agreement = "; ".join(comparison.problems) or "agree"
        print(f"  vs {comparison.vnpy.implementation}: ratio {comparison.ratio:.2f}x "
              f"(target >= {comparison.target:g}x), trades and statistics {agreement}: "
              f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    payload = {
        "rows": [asdict(redfire)] + [asdict(c.vnpy) for c in comparisons],
        "tick_build_seconds": tick_seconds,
        "comparisons": [
            {"vnpy": c.vnpy.implementation, "ratio": c.ratio, "target": c.target,
             "problems": c.problems}
            for c in comparisons
        ],
    }  # fmt: skip
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return passed


def main() -> int:
    """Parse arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    redfire, comparisons, tick_seconds = measure(arguments.bars, arguments.repeat)
    return 0 if report(redfire, comparisons, tick_seconds) else 1


if __name__ == "__main__":
    sys.exit(main())
