"""Backtest shapes: the request (CSV upload or stored bars), the cost model, the result."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from backend.models.enums import BacktestStatus
from backend.schemas.common import Amount as AmountInput
from backend.schemas.common import IsoAwareDateTime, IsoDateTime, scaled_decimal
from backend.schemas.strategies import ClassName, Symbol

# A request's amount (plain notation, 16 digits before the point, 8 after), shown at 8 places.
Amount = Annotated[AmountInput, PlainSerializer(scaled_decimal, return_type=str, when_used="json")]


class BacktestSettings(BaseModel):
    """vnpy's BacktestingEngine parameters: capital, costs and the contract's size and tick."""

    model_config = ConfigDict(extra="forbid")

    capital: Amount = Field(default=Decimal(1_000_000), gt=0, description="Starting balance")
    rate: Amount | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="Commission / turnover; default: VNPY__PAPER_COMMISSION_RATE when the "
        "symbol's contract trades on PAPER, else 0",
    )
    slippage: Amount = Field(
        default=Decimal(0), ge=0, description="Cost per unit of volume; default 0"
    )
    size: Amount | None = Field(
        default=None,
        gt=0,
        description="Contract multiplier; default: the listed contract's size, else 1",
    )
    pricetick: Amount | None = Field(
        default=None,
        ge=0,
        description="Limit/stop prices round to it (0: no rounding); "
        "default: the listed contract's price tick, else 0",
    )
    risk_free: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)
    annual_days: int = Field(default=240, ge=1, le=366)
    half_life: int = Field(default=120, ge=1, le=10_000, description="EWM Sharpe half-life")
    start: IsoAwareDateTime | None = Field(
        default=None,
        description="First bar replayed (naive: UTC); the bars before it are the history a "
        "CTA strategy's load_bar warms up on. Default: the first bar",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _naive_is_utc(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        return value


class BacktestCreate(BaseModel):
    """What to backtest: a registered class with its parameters, on a symbol, with costs."""

    model_config = ConfigDict(extra="forbid")

    class_name: ClassName
    symbol: Symbol
    parameters: dict[str, Any] = Field(default_factory=dict)
    settings: BacktestSettings = Field(default_factory=BacktestSettings)


class BacktestFromTicks(BacktestCreate):
    """JSON body: replay ticks stored by the platform between `start` and `end`."""

    source: Literal["ticks"]
    start: IsoDateTime
    end: IsoDateTime


# Datetimes a stored bar may carry (beyond them a range means nothing).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class StoredRange(BaseModel):
    """The stored bars of `symbol` in [start, end) at an interval (a JSON body's `source`)."""

    source: Literal["history"]
    interval: Literal["1m", "5m", "15m", "1h", "1d"] = "1m"
    start: IsoDateTime = Field(description="ISO 8601; naive is UTC")
    end: IsoDateTime = Field(description="exclusive; ISO 8601, naive is UTC")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if not EARLIEST <= moment < LATEST:
            raise ValueError("must be from 1970-01-01 to before 2200-01-01")
        return moment

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class BacktestFromHistory(BacktestCreate, StoredRange):
    """JSON body: replay the bars market history stored of `symbol` in [start, end)."""


BacktestJSON = Annotated[BacktestFromHistory | BacktestFromTicks, Field(discriminator="source")]


class BacktestAccepted(BaseModel):
    """202: the backtest is queued; poll GET /backtests/{id}."""

    id: int
    status: BacktestStatus


class BacktestSummary(BaseModel):
    """A backtest in a list: everything but the trades and the daily table."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    status: BacktestStatus
    class_name: str
    symbol: str
    source: str
    parameters: dict[str, Any]
    settings: dict[str, Any]
    bar_count: int
    trade_count: int
    statistics: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BacktestRead(BacktestSummary):
    """One backtest with its trades (up to the configured number kept) and daily results."""

    trades: list[dict[str, Any]] | None
    daily: list[dict[str, Any]] | None
