"""Backtest shapes: the request (CSV upload or stored ticks), the cost model, the result."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.models.enums import BacktestStatus
from backend.schemas.common import Amount
from backend.schemas.strategies import ClassName, Symbol


class BacktestSettings(BaseModel):
    """vnpy's BacktestingEngine parameters: capital, costs and the contract's size and tick."""

    model_config = ConfigDict(extra="forbid")

    capital: Amount = Field(default=Decimal(1_000_000), gt=0, description="Starting balance")
    rate: Amount = Field(default=Decimal(0), ge=0, lt=1, description="Commission / turnover")
    slippage: Amount = Field(default=Decimal(0), ge=0, description="Cost per unit of volume")
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
    start: datetime
    end: datetime


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
