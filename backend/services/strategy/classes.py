"""StrategyClassEntry: one listed strategy class, RedFire's own or a vnpy CTA one, and its rules.

Every class the registry lists is described the same way, whatever its kind and source: its
parameter JSON schema and pydantic model (create, update and backtests validate against it),
its vnpy variables, where it came from, and, when it cannot be used, why.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from backend.services.strategy.base import BaseStrategy

BUILTIN_SOURCE = "builtin"


class StrategyKind(StrEnum):
    """RedFire's BaseStrategy, or vnpy's CtaTemplate."""

    REDFIRE = "redfire"
    CTA = "cta"


class ClassRuleError(ValueError):
    """A class that cannot be offered: the message says which rule it breaks."""


@dataclass(frozen=True, slots=True)
class StrategyClassEntry:
    """What `/strategies/classes` lists for one class, and what running it needs."""

    class_name: str
    # None when the source failed before any class could be read (a file that does not import).
    kind: StrategyKind | None
    source: str
    description: str = ""
    available: bool = True
    reason: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    variables: list[str] = field(default_factory=list)
    strategy_class: type | None = None
    parameters_model: type[BaseModel] | None = None

    @classmethod
    def unavailable(
        cls, class_name: str, kind: StrategyKind | None, source: str, reason: str
    ) -> StrategyClassEntry:
        """An entry that cannot be used, saying why."""
        return cls(class_name, kind, source, available=False, reason=reason)


def doc_line(strategy_class: type) -> str:
    """The first line of the class's own docstring ('' when it has none)."""
    doc = strategy_class.__dict__.get("__doc__") or ""
    return next((line.strip() for line in doc.strip().splitlines() if line.strip()), "")


def forbidding_extras(model: type[BaseModel]) -> type[BaseModel]:
    """`model`, or a subclass of it that refuses unknown fields (422 naming each one)."""
    if model.model_config.get("extra") == "forbid":
        return model
    config = ConfigDict(**{**model.model_config, "extra": "forbid"})
    return type(model.__name__, (model,), {"model_config": config, "__module__": model.__module__})


def redfire_entry(strategy_class: type, source: str) -> StrategyClassEntry:
    """The entry of a BaseStrategy subclass; ClassRuleError when it breaks a rule."""
    if not issubclass(strategy_class, BaseStrategy):
        raise ClassRuleError("not a subclass of BaseStrategy")
    if inspect.isabstract(strategy_class):
        missing = ", ".join(sorted(getattr(strategy_class, "__abstractmethods__", ())))
        raise ClassRuleError(f"abstract: does not implement {missing}")
    model = getattr(strategy_class, "parameters_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ClassRuleError("parameters_model must be a pydantic BaseModel subclass")
    try:
        schema = model.model_json_schema()
    except Exception as exc:
        raise ClassRuleError(f"parameters_model has no JSON schema: {exc}") from exc
    description = strategy_class.__dict__.get("description") or doc_line(strategy_class)
    return StrategyClassEntry(
        class_name=strategy_class.__name__,
        kind=StrategyKind.REDFIRE,
        source=source,
        description=str(description),
        parameters=schema,
        strategy_class=strategy_class,
        parameters_model=forbidding_extras(model),
    )
