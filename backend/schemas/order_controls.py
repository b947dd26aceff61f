"""Order controls: cancel-all's selection and answer, closing a position."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.models.enums import OrderSide
from backend.schemas.common import INTEGER_MAX, Amount
from backend.schemas.orders import ClientOrderId, Symbol


class CancelAllRequest(BaseModel):
    """Which open orders to cancel: every one, or those matching all the filters given."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"symbol": "IF2412.CFFEX"}]}
    )

    symbol: Symbol | None = None
    side: OrderSide | None = None
    strategy_id: int | None = Field(default=None, ge=1, le=INTEGER_MAX)


class CancelAllResult(BaseModel):
    """What cancel-all did: ids cancelled, and ids still open (their cancel unconfirmed)."""

    cancelled: list[int]
    still_open: list[int]
    count: int = Field(description="How many orders were cancelled (`len(cancelled)`)")


class ClosePositionRequest(BaseModel):
    """Close all of a position, or `quantity` of it, with a market order."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"quantity": "1"}]}
    )

    quantity: Amount | None = None
    client_order_id: ClientOrderId | None = None


class OrderAmend(BaseModel):
    """New price and/or total quantity of an open order (cancel-replace)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"price": "3501.0"}, {"quantity": "2"}]},
    )

    price: Amount | None = None
    quantity: Amount | None = Field(
        default=None, description="The new total quantity, filled part included"
    )
    limit_price: Amount | None = Field(default=None, description="A stop-limit's new limit")

    @model_validator(mode="after")
    def _changes_something(self) -> OrderAmend:
        if self.price is None and self.quantity is None and self.limit_price is None:
            raise ValueError("give a new price, limit price or quantity")
        return self
