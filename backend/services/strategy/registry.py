"""StrategyRegistry: the strategy classes RedFire can run, by name; nothing is ever imported."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from backend.core.errors import DomainValidationError
from backend.services.strategy.base import BaseStrategy
from backend.services.strategy.moving_average import MovingAverageStrategy
from backend.services.vnpy.types import ContractInfo


class UnknownStrategyClassError(DomainValidationError):
    """No registered strategy class has this name."""

    code = "unknown_strategy_class"


class InvalidStrategyParametersError(DomainValidationError):
    """The parameters do not fit the strategy class."""

    code = "invalid_strategy_parameters"


@dataclass(frozen=True, slots=True)
class StrategyClassInfo:
    """What `/strategies/classes` lists for one class."""

    class_name: str
    description: str
    parameters: dict[str, Any]


class StrategyRegistry:
    """Registered strategy classes, each with the pydantic model of its parameters."""

    def __init__(self, classes: Iterable[type[BaseStrategy]] = ()) -> None:
        self._classes: dict[str, type[BaseStrategy]] = {}
        for strategy_class in classes:
            self.register(strategy_class)

    def register(self, strategy_class: type[BaseStrategy]) -> None:
        """Add a class under its own name."""
        self._classes[strategy_class.__name__] = strategy_class

    def get(self, class_name: str) -> type[BaseStrategy]:
        """The class registered under `class_name`."""
        try:
            return self._classes[class_name]
        except KeyError:
            raise UnknownStrategyClassError(f"unknown strategy class {class_name!r}") from None

    def describe(self) -> list[StrategyClassInfo]:
        """Every class with its description and parameter JSON schema, sorted by name."""
        return [
            StrategyClassInfo(
                class_name=name,
                description=strategy_class.description,
                parameters=strategy_class.parameters_model.model_json_schema(),
            )
            for name, strategy_class in sorted(self._classes.items())
        ]

    def validate(self, class_name: str, parameters: Mapping[str, Any]) -> BaseModel:
        """The validated parameters of `class_name`; 422 errors when unknown or invalid."""
        model = self.get(class_name).parameters_model
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

        With the strategy's `contract`, also 422 for what it cannot trade (see
        `BaseStrategy.contract_problems`).
        """
        validated = self.validate(class_name, parameters)
        if contract is not None:
            problems = self.get(class_name).contract_problems(validated, contract)
            if problems:
                raise InvalidStrategyParametersError(problems)
        return validated.model_dump(mode="json")


def default_registry() -> StrategyRegistry:
    """The built-in strategies."""
    return StrategyRegistry([MovingAverageStrategy])
