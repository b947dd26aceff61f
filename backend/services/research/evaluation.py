"""One combination of an optimisation, run as a single backtest: in this process or a worker.

Everything here is spawn-safe: `evaluate` is a top-level function whose inputs are plain
data of our own (the class's importable name, a bars file we wrote, the cost model, the
parameters as JSON values). A worker process finds the class again by importing it (or, for a
strategy file, by loading the configured registry), reads the bars file once and keeps it for
the next combinations of the same optimisation.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.services.backtest.bars import BarSeries, parse_csv_bars
from backend.services.backtest.daily import CostModel
from backend.services.backtest.results import statistics_record
from backend.services.backtest.statistics import RatioSettings
from backend.services.backtest.strategies import run_strategy_backtest
from backend.services.backtest.window import split_at
from backend.services.strategy.classes import StrategyClassEntry, StrategyKind, redfire_entry

# Bars files a worker keeps parsed: the optimisations running at once, at most.
_KEPT_BARS = 2
# Far above any bars file we write (those are bounded by BACKTEST__MAX_BARS at submission).
_UNBOUNDED_BARS = 1 << 40


@dataclass(frozen=True, slots=True)
class ClassRef:
    """How another process finds the strategy class: its module and name, else the registry
    configured the same way (strategy files are imported under names only their loader knows)."""

    class_name: str
    module: str
    qualname: str
    kind: StrategyKind
    paths: tuple[str, ...] = ()
    entry_points: bool = True

    @classmethod
    def of(
        cls, entry: StrategyClassEntry, paths: tuple[str, ...] = (), entry_points: bool = True
    ) -> ClassRef:
        """The reference of a usable registry entry."""
        strategy_class = entry.strategy_class
        assert strategy_class is not None
        assert entry.kind is not None
        return cls(
            entry.class_name,
            strategy_class.__module__,
            strategy_class.__qualname__,
            entry.kind,
            paths,
            entry_points,
        )


@dataclass(frozen=True, slots=True)
class SweepInputs:
    """What every combination of one optimisation shares."""

    strategy: ClassRef
    bars_path: str
    symbol: str
    costs: CostModel
    ratios: RatioSettings
    start: datetime | None = None


_entries: dict[ClassRef, StrategyClassEntry] = {}
_bars: dict[str, BarSeries] = {}
# A file's bars from the sweep's start on (RedFire strategies replay only those): split once,
# so their ReplayTicks are built once for every combination, as the whole file's are.
_replays: dict[str, tuple[datetime, BarSeries]] = {}


def _import(ref: ClassRef) -> type | None:
    try:
        target: Any = importlib.import_module(ref.module)
        for part in ref.qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    return target if isinstance(target, type) else None


def resolve(ref: ClassRef) -> StrategyClassEntry:
    """The class's entry in this process (cached)."""
    entry = _entries.get(ref)
    if entry is not None:
        return entry
    strategy_class = _import(ref)
    if strategy_class is not None and ref.kind is StrategyKind.REDFIRE:
        entry = redfire_entry(strategy_class, "worker")
    elif strategy_class is not None:
        from backend.services.cta.classes import cta_entry

        entry = cta_entry(strategy_class, "worker")
    else:
        from backend.services.strategy.registry import load_registry

        registry = load_registry([Path(p) for p in ref.paths], entry_points=ref.entry_points)
        entry = registry.entry(ref.class_name)
    _entries[ref] = entry
    return entry


def load_bars(path: str, symbol: str) -> BarSeries:
    """The bars file, parsed once per process (the latest few kept). A file is written once,
    under a name never used before (the runner's), so its name identifies its content."""
    bars = _bars.get(path)
    if bars is None:
        with open(path, "rb") as stream:
            bars = parse_csv_bars(stream, symbol=symbol, max_bars=_UNBOUNDED_BARS)
        while len(_bars) >= _KEPT_BARS:
            forget_bars(next(iter(_bars)))
        _bars[path] = bars
    return bars


def replayed_bars(path: str, symbol: str, start: datetime) -> BarSeries:
    """The file's bars from `start` on, split once per file and start (see `_replays`)."""
    kept = _replays.get(path)
    if kept is None or kept[0] != start:
        kept = _replays[path] = (start, split_at(load_bars(path, symbol), start)[1])
    return kept[1]


def forget_bars(path: str) -> None:
    """Drop a parsed bars file (its optimisation is over)."""
    _bars.pop(path, None)
    _replays.pop(path, None)


def evaluate(inputs: SweepInputs, parameters: dict[str, Any]) -> dict[str, Any]:
    """The statistics (as a backtest stores them) of one run with `parameters` (JSON values,
    validated by the class's model here again). Raises BacktestFailedError as a backtest does."""
    entry = resolve(inputs.strategy)
    assert entry.parameters_model is not None
    validated = entry.parameters_model.model_validate(parameters)
    start = inputs.start
    if entry.kind is StrategyKind.CTA or start is None:
        # A CTA strategy warms up on the bars before the start (load_bar): it takes them all.
        bars = load_bars(inputs.bars_path, inputs.symbol)
    else:
        # A RedFire strategy replays the bars from the start only (run_strategy_backtest
        # would split them off the same way, once per combination).
        bars, start = replayed_bars(inputs.bars_path, inputs.symbol, start), None
    run = run_strategy_backtest(entry, validated, bars, inputs.costs, inputs.ratios, start)
    return statistics_record(run.result.statistics)


def write_bars(bars: BarSeries, path: Path) -> None:
    """The bars as the CSV `load_bars` reads (exact decimals, ISO datetimes with offset)."""
    with path.open("w", encoding="ascii", newline="\n") as out:
        out.write("datetime,open,high,low,close,volume\n")
        columns = (bars.datetimes, bars.open, bars.high, bars.low, bars.close, bars.volume)
        for moment, open_, high, low, close, volume in zip(*columns, strict=True):
            out.write(f"{moment.isoformat()},{open_},{high},{low},{close},{volume}\n")
