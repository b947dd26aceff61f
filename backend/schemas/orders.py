"""Order, trade, position and account shapes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from backend.models.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from backend.schemas.common import INTEGER_MAX, Amount, DecimalText

Symbol = Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=r"^[\w-]+\.[A-Z]+$")]
# A client's own id for an order: unique per user, printable ASCII without spaces.
ClientOrderId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]


class OrderCreate(BaseModel):
    """A new order."""

    # The documentation's samples: orders the default PAPER market accepts as they are.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "symbol": "IF2412.CFFEX",
                    "side": "BUY",
                    "order_type": "limit",
                    "quantity": "1",
                    "price": "3500.2",
                },
                {"symbol": "rb2501.SHFE", "side": "SELL", "order_type": "market", "quantity": "2"},
            ]
        },
    )

    symbol: Symbol
    side: OrderSide
    order_type: OrderType
    quantity: Amount
    price: Amount | None = None
    limit_price: Amount | None = Field(
        default=None,
        description="A stop's limit price: touched at `price`, it rests as a limit here",
    )
    time_in_force: TimeInForce = TimeInForce.GTC
    strategy_id: int | None = Field(default=None, ge=1, le=INTEGER_MAX)
    client_order_id: ClientOrderId | None = Field(
        default=None, description="Your own id for the order, unique among your orders"
    )


def _decoded(value: object) -> object:
    """The JSON column as the driver gave it: asyncpg's own statements return the text."""
    return json.loads(value) if isinstance(value, str) else value


class RejectDetail(BaseModel):
    """Why risk rejected an order: the rule, its limit and the order's value under it.

    Decimal strings; `limit` and `value` are null for `trading_halted` (no figure to show).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rule": "max_order_quantity", "limit": "1000", "value": "1001"}]
        }
    )

    rule: str
    limit: str | None
    value: str | None


class OrderRead(BaseModel):
    """An order as the API shows it."""

    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)

    id: int
    user_id: int
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: DecimalText
    price: DecimalText | None
    limit_price: DecimalText | None = None  # (defaults for replicas of before)
    time_in_force: TimeInForce = TimeInForce.GTC
    status: OrderStatus
    filled_quantity: DecimalText
    avg_fill_price: DecimalText | None
    reject_reason: str | None
    reject_detail: Annotated[RejectDetail | None, BeforeValidator(_decoded)] = None
    # The client's own id when it chose one, else RedFire's reference (stored as client_ref).
    client_order_id: str = Field(validation_alias=AliasChoices("client_ref", "client_order_id"))
    gateway: str
    strategy_id: int | None
    # The order this one replaced when an amendment (cancel-replace) created it.
    replaces_order_id: int | None = None
    created_at: datetime
    updated_at: datetime


class TradeRead(BaseModel):
    """A fill."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    symbol: str
    side: OrderSide
    price: DecimalText
    quantity: DecimalText
    commission: DecimalText
    trade_time: datetime


class PositionRead(BaseModel):
    """Net position in one contract (quantity < 0 is short)."""

    symbol: str
    quantity: DecimalText
    avg_price: DecimalText
    realized_pnl: DecimalText
    unrealized_pnl: DecimalText


class AccountRead(BaseModel):
    """The paper account: available = balance + unrealized_pnl - margin - frozen."""

    currency: str
    balance: DecimalText
    available: DecimalText
    frozen: DecimalText  # held by open orders (their part that opens or adds to a position)
    margin: DecimalText  # held by the positions, at the last price
    realized_pnl: DecimalText
    unrealized_pnl: DecimalText
