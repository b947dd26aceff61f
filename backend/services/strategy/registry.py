"""StrategyRegistry: the strategy classes RedFire offers, by name, of both kinds.

Entries come from services/strategy/sources.py (built-ins, vnpy_ctastrategy, the
`redfire.strategies` entry points, `STRATEGY__PATHS`). Class names are unique: a name defined
by more than one source is offered by none of them, and its one entry says where each
definition lives (rename all but one), so no request ever runs a class other than the one its
author meant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from backend.core.errors import DomainValidationError
from backend.domain.market import ContractInfo
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.classes import (
    BUILTIN_SOURCE,
    StrategyClassEntry,
    StrategyKind,
    redfire_entry,
)
from backend.services.strategy.sources import (
    builtin_entries,
    directory_entries,
    entry_point_entries,
    log_unavailable,
)


class UnknownStrategyClassError(DomainValidationError):
    """No listed strategy class has this name."""

    code = "unknown_strategy_class"


class StrategyClassUnavailableError(DomainValidationError):
    """The class is listed but cannot be used; the detail says why."""

    code = "strategy_class_unavailable"


class InvalidStrategyParametersError(DomainValidationError):
    """The parameters do not fit the strategy class."""

    code = "invalid_strategy_parameters"


def resolve_clashes(entries: Iterable[StrategyClassEntry]) -> dict[str, StrategyClassEntry]:
    """One entry per class name; a name given by several sources becomes unavailable."""
    by_name: dict[str, list[StrategyClassEntry]] = {}
    for entry in entries:
        by_name.setdefault(entry.class_name, []).append(entry)
    resolved: dict[str, StrategyClassEntry] = {}
    for name, group in by_name.items():
        if len(group) == 1:
            resolved[name] = group[0]
            continue
        sources = [entry.source for entry in group]
        reason = (
            f"class name {name} is defined {len(group)} times ({'; '.join(sources)}); "
            "class names must be unique: rename all but one"
        )
        resolved[name] = StrategyClassEntry.unavailable(
            name, group[0].kind, "; ".join(sources), reason
        )
    return resolved


class StrategyRegistry:
    """The offered classes, each with the pydantic model of its parameters.

    With a `loader`, the entries are read on first use (or by `preload`), once: importing
    vnpy_ctastrategy and strategy files then stays off the start-up path of a replica.
    """

    def __init__(
        self,
        classes: Iterable[type[BaseStrategy]] = (),
        *,
        entries: Iterable[StrategyClassEntry] = (),
        loader: Callable[[], list[StrategyClassEntry]] | None = None,
    ) -> None:
        self._entries = resolve_clashes(entries)
        self._loader = loader
        self._loaded = loader is None
        self._lock = threading.Lock()
        self._registered: dict[str, StrategyClassEntry] = {}
        for strategy_class in classes:
            self.register(strategy_class)

    def preload(self) -> None:
        """Read the entries now if they are not read yet (blocking: the loader imports)."""
        if self._loaded:
            return
        with self._lock:
            if not self._loaded and self._loader is not None:
                self._entries = {**resolve_clashes(self._loader()), **self._registered}
            self._loaded = True

    def register(self, strategy_class: type[BaseStrategy]) -> None:
        """Offer a BaseStrategy subclass under its own name (replacing one of that name)."""
        entry = redfire_entry(strategy_class, BUILTIN_SOURCE)
        self._registered[entry.class_name] = entry
        self._entries[entry.class_name] = entry

    def describe(self) -> list[StrategyClassEntry]:
        """Every entry, available or not, sorted by name."""
        self.preload()
        return [self._entries[name] for name in sorted(self._entries)]

    def entry(self, class_name: str) -> StrategyClassEntry:
        """The usable entry of `class_name`; 422 when unknown or unavailable (with why)."""
        self.preload()
        entry = self._entries.get(class_name)
        if entry is None:
            raise UnknownStrategyClassError(f"unknown strategy class {class_name!r}")
        if not entry.available:
            raise StrategyClassUnavailableError(f"{class_name} is unavailable: {entry.reason}")
        return entry

    def get(self, class_name: str) -> type[BaseStrategy]:
        """The RedFire class of `class_name` (a vnpy CTA class runs in a CtaStrategyHost)."""
        entry = self.entry(class_name)
        if entry.kind is not StrategyKind.REDFIRE:
            raise UnknownStrategyClassError(f"{class_name} is not a RedFire strategy class")
        assert entry.strategy_class is not None
        assert issubclass(entry.strategy_class, BaseStrategy)
        return entry.strategy_class

    def validate(self, class_name: str, parameters: Mapping[str, Any]) -> BaseModel:
        """The validated parameters of `class_name`; 422 errors when unknown or invalid."""
        model = self.entry(class_name).parameters_model
        assert model is not None
        try:
            return model.model_validate(dict(parameters))
        except ValidationError as exc:
            detail = [
                {"type": error["type"], "loc": ["parameters", *error["loc"]], "msg": error["msg"]}
                for error in exc.errors()
            ]
            raise InvalidStrategyParametersError(detail) from None

    def normalize(
        self,
        class_name: str,
        parameters: Mapping[str, Any],
        contract: ContractInfo | None = None,
    ) -> dict[str, Any]:
        """Validated parameters as stored: defaults filled in, decimals as strings.

        With the strategy's `contract`, also 422 for what a RedFire class cannot trade (see
        `BaseStrategy.contract_problems`).
        """
        validated = self.validate(class_name, parameters)
        entry = self.entry(class_name)
        strategy_class = entry.strategy_class
        if contract is not None and entry.kind is StrategyKind.REDFIRE:
            assert strategy_class is not None
            assert issubclass(strategy_class, BaseStrategy)
            problems = strategy_class.contract_problems(validated, contract)
            if problems:
                raise InvalidStrategyParametersError(problems)
        return validated.model_dump(mode="json")


def default_registry() -> StrategyRegistry:
    """The built-in strategies: RedFire's own and every one shipped in vnpy_ctastrategy."""
    return StrategyRegistry(loader=builtin_entries)


def load_registry(paths: Sequence[Path] = (), *, entry_points: bool = True) -> StrategyRegistry:
    """Built-ins, entry points and strategy files, read on first use (or `preload`); every
    class that is unavailable is logged then."""

    def load() -> list[StrategyClassEntry]:
        entries = builtin_entries()
        if entry_points:
            entries += entry_point_entries()
        entries += directory_entries(paths)
        log_unavailable(resolve_clashes(entries).values())
        return entries

    return StrategyRegistry(loader=load)
