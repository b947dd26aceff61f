"""Optimisation core: every combination's statistics are exactly a single backtest's."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backend.services.backtest.daily import CostModel
from backend.services.backtest.results import statistics_record
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.strategies import run_strategy_backtest
from backend.services.backtest.synthetic import random_walk_bars
from backend.services.research.evaluation import ClassRef, SweepInputs, write_bars
from backend.services.research.search import (
    GeneticSettings,
    Sweep,
    SweepCancelledError,
    genetic_search,
    grid_search,
)
from backend.services.research.space import (
    InvalidParameterSpaceError,
    OptimizationSpace,
    ParameterRange,
    TooManyCombinationsError,
)
from backend.services.strategy.registry import StrategyRegistry, default_registry

COSTS = CostModel(capital=Decimal(100_000), rate=Decimal("0.0001"), slippage=Decimal("0.5"),
                  size=Decimal(10), pricetick=Decimal("0.5"))  # fmt: skip
RATIOS = RatioSettings()
BARS = random_walk_bars(2000, seed=7)


def span(name: str, start: int, end: int, step: int) -> ParameterRange:
    return ParameterRange(name, Decimal(start), Decimal(end), Decimal(step))


@pytest.fixture(scope="module")
def registry() -> StrategyRegistry:
    return default_registry()


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    executor = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def inputs_for(registry: StrategyRegistry, class_name: str, tmp_path: Path) -> SweepInputs:
    path = tmp_path / "bars.csv"
    write_bars(BARS, path)
    ref = ClassRef.of(registry.entry(class_name))
    return SweepInputs(ref, str(path), BARS.symbol, COSTS, RATIOS)


def single_backtest(registry: StrategyRegistry, class_name: str, parameters: dict[str, Any]):
    entry = registry.entry(class_name)
    validated = registry.validate(class_name, parameters)
    run = run_strategy_backtest(entry, validated, BARS, COSTS, RATIOS)
    return statistics_record(run.result.statistics)


@pytest.mark.parametrize(
    ("class_name", "fixed", "ranges"),
    [
        ("MovingAverageStrategy", {"warmup_ticks": 40, "order_type": "limit"},
         [span("fast_window", 3, 9, 3), span("slow_window", 8, 20, 4)]),
        ("DoubleMaStrategy", {}, [span("fast_window", 4, 10, 3), span("slow_window", 12, 20, 8)]),
    ],
)  # fmt: skip
def test_grid_runs_agree_exactly_with_single_backtests(
    registry: StrategyRegistry,
    pool: ProcessPoolExecutor,
    tmp_path: Path,
    class_name: str,
    fixed: dict[str, Any],
    ranges: list[ParameterRange],
) -> None:
    space = OptimizationSpace.build(registry, class_name, fixed, ranges, max_combinations=100)
    seen: list[tuple[int, int]] = []
    sweep = Sweep(inputs_for(registry, class_name, tmp_path), pool, total=space.size,
                  progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    outcome = grid_search(space, registry, sweep, "sharpe_ratio")
    assert outcome.evaluated + outcome.refused == space.size
    assert seen[-1] == (space.size, space.size)
    assert outcome.evaluated >= 4
    for run in outcome.runs:
        assert run.statistics == single_backtest(registry, class_name, run.parameters)
    scores = [run.score for run in outcome.runs]
    assert scores == sorted(scores, key=lambda value: value, reverse=True)
    assert any(run.statistics["total_trade_count"] for run in outcome.runs)


@pytest.mark.parametrize(
    ("class_name", "fixed", "ranges"),
    [
        ("MovingAverageStrategy", {"warmup_ticks": 20},
         [span("fast_window", 3, 7, 2), span("slow_window", 10, 14, 4)]),
        ("DoubleMaStrategy", {}, [span("fast_window", 4, 10, 6), span("slow_window", 12, 20, 8)]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("pooled", [False, True])
def test_a_sweep_from_a_start_agrees_with_single_backtests_from_it(
    registry: StrategyRegistry,
    pool: ProcessPoolExecutor,
    tmp_path: Path,
    class_name: str,
    fixed: dict[str, Any],
    ranges: list[ParameterRange],
    pooled: bool,
) -> None:
    """`settings.start` mid-file: a RedFire strategy replays the bars from it (split once per
    file, shared by the combinations), a CTA strategy warms up on the bars before it."""
    start = BARS.datetimes[700]
    space = OptimizationSpace.build(registry, class_name, fixed, ranges, max_combinations=10)
    inputs = replace(inputs_for(registry, class_name, tmp_path), start=start)
    sweep = Sweep(inputs, pool if pooled else None, total=space.size)
    outcome = grid_search(space, registry, sweep, "total_return")
    assert outcome.evaluated == space.size
    for run in outcome.runs:
        entry = registry.entry(class_name)
        validated = registry.validate(class_name, run.parameters)
        single = run_strategy_backtest(entry, validated, BARS, COSTS, RATIOS, start)
        assert run.statistics == statistics_record(single.result.statistics)
        assert run.statistics["start_date"] == start.date().isoformat()
    assert any(run.statistics["total_trade_count"] for run in outcome.runs)


def test_grid_without_a_pool_is_the_same_as_with_one(
    registry: StrategyRegistry, pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    ranges = [span("fast_window", 3, 7, 2), span("slow_window", 10, 14, 4)]
    fixed = {"warmup_ticks": 30}
    space = OptimizationSpace.build(registry, "MovingAverageStrategy", fixed, ranges,
                                    max_combinations=100)  # fmt: skip
    inputs = inputs_for(registry, "MovingAverageStrategy", tmp_path)
    serial = grid_search(space, registry, Sweep(inputs, None, total=6), "total_return")
    pooled = grid_search(space, registry, Sweep(inputs, pool, total=6), "total_return")
    assert [run.record() for run in serial.runs] == [run.record() for run in pooled.runs]


def test_refused_combinations_are_counted_not_run(
    registry: StrategyRegistry, tmp_path: Path
) -> None:
    ranges = [span("fast_window", 5, 15, 5), span("slow_window", 10, 10, 1)]
    space = OptimizationSpace.build(registry, "MovingAverageStrategy", {"warmup_ticks": 30},
                                    ranges, max_combinations=10)  # fmt: skip
    inputs = inputs_for(registry, "MovingAverageStrategy", tmp_path)
    outcome = grid_search(space, registry, Sweep(inputs, None, total=3), "total_return")
    assert (outcome.evaluated, outcome.refused) == (1, 2)
    assert outcome.runs[0].parameters["fast_window"] == 5


def test_genetic_search_is_repeatable_and_agrees_with_single_backtests(
    registry: StrategyRegistry, pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    ranges = [span("fast_window", 2, 10, 1), span("slow_window", 12, 30, 2)]
    space = OptimizationSpace.build(registry, "DoubleMaStrategy", {}, ranges,
                                    max_combinations=1000)  # fmt: skip
    settings = GeneticSettings(population=6, offspring=6, generations=3, seed=3)
    inputs = inputs_for(registry, "DoubleMaStrategy", tmp_path)
    first = genetic_search(space, registry, Sweep(inputs, pool, total=settings.budget),
                           "sharpe_ratio", settings)  # fmt: skip
    again = genetic_search(space, registry, Sweep(inputs, None, total=settings.budget),
                           "sharpe_ratio", settings)  # fmt: skip
    assert [run.record() for run in first.runs] == [run.record() for run in again.runs]
    assert 0 < first.evaluated <= settings.budget
    for run in first.runs[:3]:
        assert run.statistics == single_backtest(registry, "DoubleMaStrategy", run.parameters)


def test_cancelled_sweep_stops(registry: StrategyRegistry, tmp_path: Path) -> None:
    ranges = [span("fast_window", 2, 5, 1)]
    space = OptimizationSpace.build(registry, "DoubleMaStrategy", {}, ranges, max_combinations=10)
    sweep = Sweep(inputs_for(registry, "DoubleMaStrategy", tmp_path), None, total=4)
    sweep.progress = lambda done, total: sweep.cancelled.set()
    with pytest.raises(SweepCancelledError):
        grid_search(space, registry, sweep, "total_return")
    assert sweep.done == 1


@pytest.mark.parametrize(
    ("ranges", "fixed", "error"),
    [
        ([span("nope", 1, 2, 1)], {}, InvalidParameterSpaceError),
        ([span("order_type", 1, 2, 1)], {}, InvalidParameterSpaceError),
        ([ParameterRange("fast_window", Decimal(1), Decimal("2.5"), Decimal(1))], {},
         InvalidParameterSpaceError),
        ([span("fast_window", 1, 2, 0)], {}, InvalidParameterSpaceError),
        ([span("fast_window", 3, 2, 1)], {}, InvalidParameterSpaceError),
        ([span("fast_window", 1, 2, 1)], {"unknown": 1}, InvalidParameterSpaceError),
        ([], {}, InvalidParameterSpaceError),
        ([span("fast_window", 1, 10, 1), span("slow_window", 1, 10, 1)], {},
         TooManyCombinationsError),
        ([span("fast_window", 1, 1_000_000_000, 1)], {}, TooManyCombinationsError),
    ],
)  # fmt: skip
def test_bad_spaces_are_refused(
    registry: StrategyRegistry, ranges: list[ParameterRange], fixed: dict[str, Any], error: type
) -> None:
    with pytest.raises(error):
        OptimizationSpace.build(registry, "MovingAverageStrategy", fixed, ranges,
                                max_combinations=50)  # fmt: skip


def test_decimal_parameters_step_exactly(registry: StrategyRegistry) -> None:
    ranges = [ParameterRange("fixed_size", Decimal("0.1"), Decimal("0.3"), Decimal("0.1"))]
    space = OptimizationSpace.build(registry, "MovingAverageStrategy", {}, ranges,
                                    max_combinations=10)  # fmt: skip
    assert [combo["fixed_size"] for combo in space.grid()] == ["0.1", "0.2", "0.3"]
