"""The order tables as Core tables, and the shapes the repository takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table

from backend.models.control import IdempotencyKey
from backend.models.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from backend.models.order import OpenOrderCount, Order

ORDERS = cast(Table, Order.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)
OPEN_ORDER_COUNTS = cast(Table, OpenOrderCount.__table__)
# An order row as a statement returned it, column name -> value.
StoredOrder = dict[str, Any]
# An Idempotency-Key's identity: keys are per user.
KeyIdent = tuple[int, str]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order to insert, and the Idempotency-Key (of its user) to point at it."""

    user_id: int
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    limit_price: Decimal | None
    time_in_force: TimeInForce
    status: OrderStatus
    reject_reason: str | None
    reject_detail: dict[str, str | None] | None
    client_order_id: str  # RedFire's reference, which the gateway carries back
    client_ref: str  # the client's id for it (its own, or the reference)
    strategy_id: int | None
    hold_price: Decimal | None
    key: str | None
    replaces_order_id: int | None = None
