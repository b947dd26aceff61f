"""Benchmark: a MovingAverageStrategy backtest vs. vnpy's BacktestingEngine + DoubleMaStrategy.

Run: .venv/bin/python -m bench.bench_backtest [--bars N] [--repeat R]

Both engines replay the same seeded random walk of one-minute bars (tick 0.5, exact in binary
floating point, so vnpy's float sums are exact too; each bar opens at the previous close) with
the same cost model, and both are timed from loaded bars to finished statistics: RedFire's
`BacktestEngine.run` (replay, fills, daily table, statistics) against vnpy's
`run_backtesting` + `calculate_result` + `calculate_statistics`. Building the inputs (the
BarSeries, vnpy's BarData list) is not timed, and both are frozen out of the garbage
collector's view while the other side runs. MovingAverageStrategy places limit orders at the
close, as DoubleMaStrategy does, so the trades and the net PnL must agree.
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

from backend.services.backtest.bars import BarSeries
from backend.services.backtest.daily import CostModel
from backend.services.backtest.engine import BacktestEngine, BacktestResult
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.strategy.moving_average import (
    MovingAverageParameters,
    MovingAverageStrategy,
)
from bench.vnpy_reference import (
    prepare_vnpy,
    redfire_trades,
    run_vnpy,
    same_to_the_cent,
    vnpy_bars,
    vnpy_trades,
)

RESULTS = Path(__file__).resolve().parent / "results" / "backtest.json"
TARGET_RATIO = 5.0
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
    """Seconds for one full RedFire backtest, and its result."""
    parameters = MovingAverageParameters.model_validate({"order_type": "limit"})
    engine = BacktestEngine(COSTS)
    with quiet_heap():
        started = time.perf_counter()
        result = engine.run(MovingAverageStrategy, parameters, bars)
        return time.perf_counter() - started, result


def run_vnpy_once(bars: BarSeries, history: list[Any]) -> tuple[float, Any, dict[str, Any]]:
    """Seconds for one full vnpy backtest, its engine and its statistics."""
    engine = prepare_vnpy(bars, history, COSTS, {})
    with quiet_heap():
        started = time.perf_counter()
        statistics = run_vnpy(engine)
        return time.perf_counter() - started, engine, statistics


def measure(count: int, repeat: int) -> tuple[Row, Row, bool]:
    """Best of `repeat` runs of each side, and whether their trades and net PnL agree."""
    bars = random_walk_bars(count)
    history = vnpy_bars(bars)
    ours = [run_redfire(bars) for _ in range(repeat)]
    theirs = [run_vnpy_once(bars, history) for _ in range(repeat)]
    seconds, result = min(ours, key=lambda run: run[0])
    vnpy_seconds, engine, statistics = min(theirs, key=lambda run: run[0])
    net_pnl = result.statistics["total_net_pnl"]
    agree = redfire_trades(bars, result) == vnpy_trades(engine) and same_to_the_cent(
        net_pnl, statistics["total_net_pnl"]
    )
    rows = (
        Row("RedFire BacktestEngine + MovingAverageStrategy", count, seconds, count / seconds,
            len(result.fills.price), net_pnl),
        Row("vnpy BacktestingEngine + DoubleMaStrategy", count, vnpy_seconds,
            count / vnpy_seconds, len(engine.trades), f"{statistics['total_net_pnl']:.2f}"),
    )  # fmt: skip
    return rows[0], rows[1], agree


def report(redfire: Row, vnpy: Row, agree: bool) -> bool:
    """Print the table; True when the target is met and the results agree."""
    ratio = redfire.bars_per_second / vnpy.bars_per_second
    print(f"{'implementation':50} {'bars':>9} {'seconds':>8} {'bars/s':>10} {'trades':>7} "
          f"{'net pnl':>14}")  # fmt: skip
    for row in (redfire, vnpy):
        print(
            f"{row.implementation:50} {row.bars:>9} {row.seconds:>8.3f} "
            f"{row.bars_per_second:>10,.0f} {row.trades:>7} {row.total_net_pnl:>14}"
        )
    ratio_ok = ratio >= TARGET_RATIO
    print(f"ratio RedFire / vnpy: {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: "
          f"{'PASS' if ratio_ok else 'FAIL'})")  # fmt: skip
    print(f"trades (time, side, price, volume) and net PnL to the cent agree: "
          f"{'yes' if agree else 'NO'}")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    payload = {"rows": [asdict(redfire), asdict(vnpy)], "ratio": ratio, "agree": agree}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return ratio_ok and agree


def main() -> int:
    """Parse arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()
    redfire, vnpy, agree = measure(arguments.bars, arguments.repeat)
    return 0 if report(redfire, vnpy, agree) else 1


if __name__ == "__main__":
    sys.exit(main())
