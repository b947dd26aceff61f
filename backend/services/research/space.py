"""OptimizationSpace: the parameter grid of an optimisation, as vnpy's OptimizationSetting.

Each swept parameter is a range (`start`, `end` inclusive, `step` > 0) of numbers, stepped in
exact decimal arithmetic (0.1 + 0.1 + 0.1 is 0.3 here); every other parameter keeps its fixed
value. Names and types come from the class's parameter schema (`/strategies/classes`): only an
`integer` or `number` parameter can be swept, an integer one with integer bounds and step.
Combinations the class itself refuses (e.g. a slow window not above the fast one) are left
out and counted, as vnpy would run them only to get nothing back.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from backend.core.errors import DomainValidationError
from backend.services.strategy.registry import InvalidStrategyParametersError, StrategyRegistry


class InvalidParameterSpaceError(DomainValidationError):
    """A range names an unknown parameter, one that cannot be swept, or is malformed."""

    code = "invalid_parameter_space"


class TooManyCombinationsError(DomainValidationError):
    """The grid has more combinations than RESEARCH__MAX_COMBINATIONS."""

    code = "too_many_combinations"


@dataclass(frozen=True, slots=True)
class ParameterRange:
    """One swept parameter: `start`, `start + step`, ... up to `end` inclusive."""

    name: str
    start: Decimal
    end: Decimal
    step: Decimal

    def values(self, limit: int) -> list[Decimal]:
        """The stepped values; InvalidParameterSpaceError past `limit` of them."""
        if self.step <= 0:
            raise InvalidParameterSpaceError(f"{self.name}: step must be positive")
        if self.end < self.start:
            raise InvalidParameterSpaceError(f"{self.name}: end must not be before start")
        count = int((self.end - self.start) / self.step) + 1
        if count > limit:
            raise TooManyCombinationsError(
                f"{self.name} alone has {count} values: more than {limit} combinations"
            )
        return [self.start + self.step * index for index in range(count)]


def _kind(schema: Mapping[str, Any]) -> str | None:
    """`integer`, `number`, or None for a parameter that cannot be swept."""
    kinds = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", ())}
    if "integer" in kinds:
        return "integer"
    if "number" in kinds:
        return "number"
    return None


def _typed(value: Decimal, kind: str, *, decimal_text: bool) -> Any:
    if kind == "integer":
        return int(value)
    # A RedFire Decimal parameter takes the exact text; a vnpy float one a float.
    return str(value) if decimal_text else float(value)


@dataclass(frozen=True, slots=True)
class OptimizationSpace:
    """The class's fixed parameters and the values of each swept one, validated."""

    class_name: str
    fixed: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @classmethod
    def build(
        cls,
        registry: StrategyRegistry,
        class_name: str,
        fixed: Mapping[str, Any],
        ranges: list[ParameterRange],
        *,
        max_combinations: int,
    ) -> OptimizationSpace:
        """422 for an unknown class, parameter or sweep, or more than `max_combinations`."""
        entry = registry.entry(class_name)
        properties: dict[str, Any] = entry.parameters.get("properties", {})
        if not ranges:
            raise InvalidParameterSpaceError("give at least one parameter range")
        axes: list[tuple[str, tuple[Any, ...]]] = []
        total = 1
        for parameter in ranges:
            schema = properties.get(parameter.name)
            if schema is None:
                raise InvalidParameterSpaceError(
                    f"{class_name} has no parameter {parameter.name!r}"
                )
            if any(name == parameter.name for name, _ in axes):
                raise InvalidParameterSpaceError(f"{parameter.name} has two ranges")
            kind = _kind(schema)
            if kind is None:
                raise InvalidParameterSpaceError(
                    f"{parameter.name} is not a number: only integer and number parameters "
                    "can be swept"
                )
            bounds = (parameter.start, parameter.end, parameter.step)
            if kind == "integer" and any(value != value.to_integral_value() for value in bounds):
                raise InvalidParameterSpaceError(
                    f"{parameter.name} is an integer: start, end and step must be integers"
                )
            decimal_text = "anyOf" in schema  # DecimalInput: number or decimal string
            values = parameter.values(max_combinations)
            axes.append((parameter.name, tuple(_typed(v, kind, decimal_text=decimal_text)
                                               for v in values)))  # fmt: skip
            total *= len(values)
            if total > max_combinations:
                raise TooManyCombinationsError(
                    f"the ranges make more than {max_combinations} combinations "
                    "(RESEARCH__MAX_COMBINATIONS)"
                )
        unknown = sorted(set(fixed) - set(properties))
        if unknown:
            raise InvalidParameterSpaceError(f"{class_name} has no parameter {unknown[0]!r}")
        swept = {name for name, _ in axes}
        fixed_only = {key: value for key, value in fixed.items() if key not in swept}
        return cls(class_name, fixed_only, tuple(axes))

    @property
    def size(self) -> int:
        """The number of combinations in the grid."""
        total = 1
        for _, values in self.axes:
            total *= len(values)
        return total

    @property
    def names(self) -> tuple[str, ...]:
        """The swept parameters, in the order of the request."""
        return tuple(name for name, _ in self.axes)

    def combination(self, indices: tuple[int, ...]) -> dict[str, Any]:
        """The swept values at `indices` (one index per axis)."""
        return {name: values[i] for (name, values), i in zip(self.axes, indices, strict=True)}

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every combination of swept values, the last axis varying fastest."""
        for values in itertools.product(*(values for _, values in self.axes)):
            yield dict(zip(self.names, values, strict=True))

    def parameters(self, registry: StrategyRegistry, swept: Mapping[str, Any]) -> BaseModel | None:
        """The class's validated parameters for one combination; None when it refuses them."""
        try:
            return registry.validate(self.class_name, {**self.fixed, **swept})
        except InvalidStrategyParametersError:
            return None
