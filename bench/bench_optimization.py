"""Benchmark: a parameter grid in one process vs. a process pool of 1 and of N workers.

Run: .venv/bin/python -m bench.bench_optimization [--bars N] [--combinations C] [--workers W]

MovingAverageStrategy (limit orders) over a seeded random walk of one-minute bars, swept over
fast_window (5 values) x slow_window (C / 5 values), each combination one backtest
(`services/research`): serially in this process (no pool), then on a spawned
ProcessPoolExecutor of 1 worker and of W workers, the same code path the API runs. Each pool
is started and warmed (every worker imported the backend) before the clock starts; reading the
bars file in each worker is timed, as it is part of every job. All three must rank the same runs
with the same statistics. Target (issue 20): W = 2 takes <= 0.6x the time of 1 worker.
Results: a table on stdout, JSON in bench/results/optimization.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from backend.services.backtest.daily import CostModel
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.research.evaluation import ClassRef, SweepInputs, write_bars
from backend.services.research.search import Sweep, grid_search
from backend.services.research.space import OptimizationSpace, ParameterRange
from backend.services.strategy.registry import StrategyRegistry, default_registry

LOAD_BEFORE = os.getloadavg()[0]
RESULTS = Path(__file__).resolve().parent / "results" / "optimization.json"
TARGET_RATIO = 0.6
CLASS_NAME = "MovingAverageStrategy"
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

    mode: str
    combinations: int
    seconds: float
    cpu_seconds: float
    combinations_per_second: float
    bar_replays_per_second: float


def space(registry: StrategyRegistry, combinations: int) -> OptimizationSpace:
    """fast_window 3, 5, ... (5 values) x slow_window 20, 24, ... (combinations / 5 values)."""
    slow = max(1, combinations // 5)
    ranges = [
        ParameterRange("fast_window", Decimal(3), Decimal(11), Decimal(2)),
        ParameterRange("slow_window", Decimal(20), Decimal(20 + 4 * (slow - 1)), Decimal(4)),
    ]
    fixed = {"order_type": "limit", "warmup_ticks": 30 + 4 * slow}
    return OptimizationSpace.build(registry, CLASS_NAME, fixed, ranges, max_combinations=10_000)


def _warm() -> int:
    import backend.services.research.evaluation  # noqa: F401 (the import is the warm-up)

    return os.getpid()


def warmed_pool(workers: int) -> ProcessPoolExecutor:
    """A spawned pool whose every worker has imported the backend."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    pids: set[int] = set()
    while len(pids) < workers:
        futures = [pool.submit(_warm) for _ in range(workers * 2)]
        wait(futures)
        pids |= {future.result() for future in futures}
    return pool


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the pool's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(
    grid: OptimizationSpace, registry: StrategyRegistry, inputs: SweepInputs,
    pool: ProcessPoolExecutor | None,
) -> tuple[float, list[dict[str, Any]]]:  # fmt: skip
    """Seconds for the whole grid, and its ranked runs."""
    sweep = Sweep(inputs, pool, total=grid.size)
    started = time.perf_counter()
    outcome = grid_search(grid, registry, sweep, "sharpe_ratio")
    return time.perf_counter() - started, [run.record() for run in outcome.runs]


def measure(bars: int, combinations: int, workers: int) -> tuple[list[Row], bool]:
    """Serial, 1 worker, `workers` workers: rows and whether all ranked the same runs."""
    registry = default_registry()
    grid = space(registry, combinations)
    series = random_walk_bars(bars)
    rows: list[Row] = []
    results = []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bars.csv"
        write_bars(series, path)
        ref = ClassRef.of(registry.entry(CLASS_NAME))
        inputs = SweepInputs(ref, str(path), series.symbol, COSTS, RatioSettings())
        modes: list[tuple[str, int | None]] = [("in process, no pool", None), ("pool, 1 worker", 1)]
        modes.append((f"pool, {workers} workers", workers))
        for name, size in modes:
            pool = warmed_pool(size) if size else None
            # The warm-up's CPU is not the sweep's: a warmed pool's workers are measured from
            # here (their CPU is counted once they are reaped by the shutdown).
            cpu_before = cpu_seconds()
            try:
                seconds, runs = timed(grid, registry, inputs, pool)
            finally:
                if pool is not None:
                    pool.shutdown(wait=True)
            cpu = cpu_seconds() - cpu_before
            results.append(runs)
            count = grid.size
            rows.append(Row(name, count, seconds, cpu, count / seconds, count * bars / seconds))
    agree = all(runs == results[0] for runs in results)
    return rows, agree


def report(rows: list[Row], agree: bool, bars: int) -> bool:
    """Print the table; True when the target is met and the runs agree."""
    print(f"grid of {rows[0].combinations} MovingAverageStrategy combinations, {bars:,} bars each")
    print(f"{'mode':24} {'combos':>7} {'seconds':>9} {'cpu s':>8} {'combos/s':>9} {'bars/s':>12}")
    for row in rows:
        print(
            f"{row.mode:24} {row.combinations:>7} {row.seconds:>9.2f} {row.cpu_seconds:>8.2f} "
            f"{row.combinations_per_second:>9.2f} {row.bar_replays_per_second:>12,.0f}"
        )
    ratio = rows[2].seconds / rows[1].seconds
    ok = ratio <= TARGET_RATIO
    print(f"time {rows[2].mode} / pool, 1 worker: {ratio:.2f}x (target <= {TARGET_RATIO}x: "
          f"{'PASS' if ok else 'FAIL'}); cores: {os.cpu_count()}, load average before: "
          f"{LOAD_BEFORE:.1f} (other processes share the cores: compare cpu s)")  # fmt: skip
    print("cpu s: this process and the pool's workers; a pool's includes each worker's start "
          "(importing the backend)")  # fmt: skip
    print(f"every mode ranked the same runs with the same statistics: {'yes' if agree else 'NO'}")
    RESULTS.parent.mkdir(exist_ok=True)
    payload = {"rows": [asdict(row) for row in rows], "ratio": ratio, "agree": agree}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    return ok and agree


def main() -> int:
    """Parse arguments, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--combinations", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    rows, agree = measure(arguments.bars, arguments.combinations, arguments.workers)
    return 0 if report(rows, agree, arguments.bars) else 1


if __name__ == "__main__":
    sys.exit(main())
