"""Optimisation shapes: the sweep (ranges, target, method), its bars, and its best runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from backend.models.enums import OptimizationStatus
from backend.schemas.backtests import BacktestSettings, StoredRange
from backend.schemas.common import Amount
from backend.schemas.strategies import ClassName, Symbol
from backend.services.research.search import TARGETS

MAX_RANGES = 8
MAX_TOP_RUNS = 100
Target = Literal[TARGETS]  # type: ignore[valid-type]
ParameterName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ParameterRangeIn(BaseModel):
    """One swept parameter: `start`, `start + step`, ... up to `end` inclusive (decimals)."""

    model_config = ConfigDict(extra="forbid")

    name: ParameterName
    start: Amount
    end: Amount
    step: Amount = Field(gt=0)


class GeneticSettingsIn(BaseModel):
    """vnpy's GA settings; evaluations asked for (population + generations x offspring) count
    against RESEARCH__MAX_COMBINATIONS."""

    model_config = ConfigDict(extra="forbid")

    population: int = Field(default=20, ge=2, le=1000)
    offspring: int = Field(default=20, ge=1, le=1000)
    generations: int = Field(default=5, ge=1, le=100)
    crossover: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    mutation: float = Field(default=0.3, ge=0, le=1, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @field_validator("mutation")
    @classmethod
    def _sum_at_most_one(cls, value: float, info: Any) -> float:
        if info.data.get("crossover", 0) + value > 1:
            raise ValueError("crossover + mutation must be at most 1 (DEAP's varOr)")
        return value


class OptimizationSweep(BaseModel):
    """What to sweep: a class, its fixed parameters, the ranges, how to rank and search."""

    model_config = ConfigDict(extra="forbid")

    class_name: ClassName
    symbol: Symbol
    parameters: dict[str, Any] = Field(default_factory=dict, description="fixed parameters")
    ranges: list[ParameterRangeIn] = Field(min_length=1, max_length=MAX_RANGES)
    target: Target = "sharpe_ratio"
    method: Literal["grid", "genetic"] = "grid"
    genetic: GeneticSettingsIn = Field(default_factory=GeneticSettingsIn)
    top: int = Field(default=10, ge=1, le=MAX_TOP_RUNS, description="best runs kept")
    settings: BacktestSettings = Field(default_factory=BacktestSettings)


class OptimizationFromHistory(OptimizationSweep, StoredRange):
    """JSON body: sweep over the bars market history stored of `symbol` in [start, end)."""


class OptimizationAccepted(BaseModel):
    """202: the optimisation is queued; poll GET /optimizations/{id}."""

    id: int
    status: OptimizationStatus
    total: int


class OptimizationSummary(BaseModel):
    """An optimisation in a list: everything but its runs."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    status: OptimizationStatus
    class_name: str
    symbol: str
    source: str
    method: str
    target: str
    request: dict[str, Any]
    settings: dict[str, Any]
    bar_count: int
    total: int
    done: int
    evaluated: int
    refused: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class OptimizationRead(OptimizationSummary):
    """One optimisation with its best runs (`top` of them, best first) once finished."""

    runs: list[dict[str, Any]] | None
