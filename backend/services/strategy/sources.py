"""Where strategy classes come from: built-ins, vnpy_ctastrategy, entry points, directories.

Only configuration chooses what is imported (never a request): the `redfire.strategies`
entry-point group of installed distributions, and the `.py` files of the directories in
`STRATEGY__PATHS`. A source that fails (a file that does not import, an entry point that
does not load, a class that breaks the rules) becomes an unavailable entry whose reason says
why, and is logged once; everything else carries on.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

import structlog

from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.classes import (
    BUILTIN_SOURCE,
    ClassRuleError,
    StrategyClassEntry,
    StrategyKind,
    redfire_entry,
)
from backend.services.strategy.moving_average import MovingAverageStrategy

logger = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "redfire.strategies"
VNPY_SOURCE = "vnpy_ctastrategy"
VNPY_STRATEGIES_PACKAGE = "vnpy_ctastrategy.strategies"
# The prefix of the module names strategy files are imported under.
FILE_MODULE_PREFIX = "redfire_strategy_files"
REDFIRE_BUILTINS: tuple[type[BaseStrategy], ...] = (MovingAverageStrategy,)
# vnpy's built-in strategies have no docstrings: what each one does, for the listing.
VNPY_DESCRIPTIONS = {
    "AtrRsiStrategy": "Enters when ATR exceeds its average and RSI leaves its band; "
    "trailing-percent stop orders exit.",
    "BollChannelStrategy": "15-minute Bollinger channel breakout by stop orders, filtered by "
    "CCI; ATR trailing stop.",
    "DoubleMaStrategy": "Fast/slow SMA crossover on each bar with limit orders at the close; "
    "reverses on every cross.",
    "DualThrustStrategy": "Dual Thrust: breakout of the previous day's range by stop orders; "
    "flat from 14:55.",
    "KingKeltnerStrategy": "5-minute Keltner channel breakout with OCO stop orders; "
    "trailing-percent stop.",
    "MultiSignalStrategy": "Target position = the sum of RSI, CCI and 5-minute MA signals "
    "(TargetPosTemplate).",
    "MultiTimeframeStrategy": "RSI entries on 5-minute bars in the direction of the 15-minute "
    "MA trend.",
    "TestStrategy": "vnpy's live order test on ticks (market, limit, cancel, stop); "
    "does nothing on bars.",
    "TurtleSignalStrategy": "Turtle trading: Donchian breakout entries in up to four units, "
    "ATR stops.",
}


def failure_reason(exc: BaseException) -> str:
    """One line saying what went wrong (a syntax error names its line)."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_cta_strategy(candidate: object) -> bool:
    """A vnpy CtaTemplate subclass (vnpy_ctastrategy is imported on first use: with talib, and
    pandas where installed, it costs start-up a second)."""
    from backend.services.cta.classes import is_cta_strategy as is_cta

    return is_cta(candidate)


def _kind_of(candidate: type) -> StrategyKind:
    return StrategyKind.CTA if is_cta_strategy(candidate) else StrategyKind.REDFIRE


def is_strategy_class(candidate: object) -> bool:
    """A class RedFire would try to offer: a BaseStrategy or CtaTemplate subclass."""
    if not isinstance(candidate, type) or candidate is BaseStrategy:
        return False
    return issubclass(candidate, BaseStrategy) or is_cta_strategy(candidate)


def class_entry(candidate: type, source: str) -> StrategyClassEntry:
    """The entry of one class, unavailable with the broken rule as its reason."""
    from backend.services.cta.classes import cta_entry

    try:
        if is_cta_strategy(candidate):
            return cta_entry(candidate, source)
        return redfire_entry(candidate, source)
    except ClassRuleError as exc:
        return StrategyClassEntry.unavailable(
            candidate.__name__, _kind_of(candidate), source, str(exc)
        )


def _defined_in(module: ModuleType) -> Iterator[type]:
    """Strategy classes the module defines itself (not the ones it imports)."""
    for _, member in inspect.getmembers(module, inspect.isclass):
        if member.__module__ == module.__name__ and is_strategy_class(member):
            yield member


def builtin_entries() -> list[StrategyClassEntry]:
    """RedFire's own classes and every strategy shipped in vnpy_ctastrategy.strategies."""
    entries = [redfire_entry(strategy_class, BUILTIN_SOURCE) for strategy_class in REDFIRE_BUILTINS]
    package = importlib.import_module(VNPY_STRATEGIES_PACKAGE)
    for module_info in pkgutil.iter_modules(package.__path__):
        name = f"{VNPY_STRATEGIES_PACKAGE}.{module_info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            entry = StrategyClassEntry.unavailable(
                module_info.name, StrategyKind.CTA, VNPY_SOURCE, failure_reason(exc)
            )
            entries.append(entry)
            continue
        for member in _defined_in(module):
            entry = class_entry(member, VNPY_SOURCE)
            described = VNPY_DESCRIPTIONS.get(entry.class_name)
            entries.append(replace(entry, description=described) if described else entry)
    return entries


def entry_point_entries(group: str = ENTRY_POINT_GROUP) -> list[StrategyClassEntry]:
    """Classes named by installed distributions' entry points (a class, or a module of them)."""
    entries: list[StrategyClassEntry] = []
    for point in sorted(entry_points(group=group), key=lambda point: point.name):
        entries.extend(_entry_point(point))
    return entries


def _entry_point(point: EntryPoint) -> list[StrategyClassEntry]:
    source = f"entry point {point.name}"
    try:
        loaded = point.load()
    except Exception as exc:
        return [StrategyClassEntry.unavailable(point.name, None, source, failure_reason(exc))]
    if isinstance(loaded, ModuleType):
        return [class_entry(member, source) for member in _defined_in(loaded)]
    if is_strategy_class(loaded):
        return [class_entry(loaded, source)]
    reason = f"{point.value} is neither a BaseStrategy or CtaTemplate subclass nor a module"
    return [StrategyClassEntry.unavailable(point.name, None, source, reason)]


def strategy_files(directory: Path) -> list[Path]:
    """The `.py` files of a directory, sorted; names starting with '_' or '.' are skipped."""
    return sorted(
        path
        for path in directory.glob("*.py")
        if path.is_file() and not path.name.startswith(("_", "."))
    )


def directory_entries(directories: Iterable[Path]) -> list[StrategyClassEntry]:
    """Classes defined in the `.py` files of each directory (each directory once)."""
    entries: list[StrategyClassEntry] = []
    seen: set[Path] = set()
    for directory in directories:
        resolved = directory.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        for path in strategy_files(resolved):
            entries.extend(file_entries(path))
    return entries


def _module_name(path: Path) -> str:
    digest = hashlib.sha256(str(path.parent).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"{FILE_MODULE_PREFIX}_{digest}_{stem}"


def file_entries(path: Path) -> list[StrategyClassEntry]:
    """Import one file as a module of its own; its strategy classes, or why it failed."""
    source = str(path)
    name = _module_name(path)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look classes up there
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception | SystemExit):
            raise
        return [StrategyClassEntry.unavailable(path.name, None, source, failure_reason(exc))]
    return [class_entry(member, source) for member in _defined_in(module)]


def log_unavailable(entries: Iterable[StrategyClassEntry]) -> None:
    """One log line per unavailable entry, with its reason."""
    for entry in entries:
        if not entry.available:
            logger.warning(
                "strategy_class_unavailable",
                class_name=entry.class_name,
                kind=entry.kind.value if entry.kind else None,
                source=entry.source,
                reason=entry.reason,
            )
