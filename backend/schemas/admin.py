"""Admin shapes: risk limits and the kill switch."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from backend.schemas.common import DecimalInput, DecimalText, PlainText

Limit = Annotated[DecimalInput, Field(gt=0, max_digits=24, decimal_places=8, allow_inf_nan=False)]
# Stored with 8 places like every decimal: 1e-9 would be stored as a band of 0.
BandPercent = Annotated[
    DecimalInput, Field(gt=0, le=1000, max_digits=12, decimal_places=8, allow_inf_nan=False)
]
# strict: `true` is not a count (lax mode would read it as 1).
Count = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]


class RiskLimitsRead(BaseModel):
    """Current limits and kill-switch state."""

    max_order_quantity: DecimalText
    max_order_notional: DecimalText
    max_open_orders: int
    max_orders_per_second: int
    price_band_pct: DecimalText
    trading_halted: bool
    halted_reason: str | None


class RiskLimitsUpdate(BaseModel):
    """Limits to change; omitted ones stay."""

    model_config = ConfigDict(extra="forbid")

    max_order_quantity: Limit | None = None
    max_order_notional: Limit | None = None
    max_open_orders: Count | None = None
    max_orders_per_second: Count | None = None
    price_band_pct: BandPercent | None = None


class HaltRequest(BaseModel):
    """Why trading is halted (shown to admins)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[PlainText, Field(max_length=255)] | None = None
