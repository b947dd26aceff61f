"""Strategy shapes: creation, update, the stored strategy, its classes and its live status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.models.enums import StrategyStatus
from backend.schemas.common import PlainText, ScaledDecimalText

StrategyName = Annotated[
    PlainText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
Symbol = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[\w-]+\.[A-Z]+$")]
ClassName = Annotated[PlainText, StringConstraints(min_length=1, max_length=100)]


class StrategyCreate(BaseModel):
    """A new strategy: a registered class, a listed symbol and the class's parameters."""

    model_config = ConfigDict(extra="forbid")

    name: StrategyName
    class_name: ClassName
    symbol: Symbol
    parameters: dict[str, Any] = Field(default_factory=dict)


class StrategyUpdate(BaseModel):
    """Rename and/or replace the parameters (validated again, missing ones take defaults)."""

    model_config = ConfigDict(extra="forbid")

    name: StrategyName | None = None
    parameters: dict[str, Any] | None = None


class StrategyRead(BaseModel):
    """A strategy as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    class_name: str
    symbol: str
    parameters: dict[str, Any]
    status: StrategyStatus
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class StrategyClassRead(BaseModel):
    """A listed strategy class: what it is, where it came from, its parameters, or why not."""

    class_name: str
    kind: Literal["redfire", "cta"] | None = Field(
        description="redfire (BaseStrategy) or cta (vnpy CtaTemplate); null for a source that "
        "failed before any class could be read"
    )
    description: str
    available: bool
    reason: str | None = Field(description="Why the class cannot be used (null when available)")
    parameters: dict[str, Any] = Field(description="JSON schema of the parameters")
    variables: list[str] = Field(description="vnpy's `variables` of a CTA class")
    source: str = Field(
        description="builtin, vnpy_ctastrategy, `entry point NAME`, or the file's path"
    )


class StrategyStatusRead(BaseModel):
    """Live status from the replica that runs it; once stopped, what it last reported.

    `ticks_processed` and `orders_placed` count since the strategy was created (they go on
    across stops, restarts and replicas); `position` is at 8 places, null before it first ran.
    """

    strategy_id: int
    status: StrategyStatus
    running: bool
    config: dict[str, Any]
    position: ScaledDecimalText | None
    ticks_processed: int
    orders_placed: int
    last_error: str | None
    last_update: datetime | None
    owner: str | None
    indicators: dict[str, Any] | None = None
    # A vnpy CTA strategy's variables (`pos` and its declared `variables`); null for others.
    variables: dict[str, Any] | None = None
