"""The orders and fills a backtest hands its strategy: cheap look-alikes of the live ones.

A million-bar replay can fill a hundred thousand orders; building a pydantic OrderRead or the
frozen TradeFill dataclass costs more per fill than everything else the fill does. These
plain slotted classes carry exactly the fields a strategy reads (domain.market.OrderState,
TradeFill; a test keeps them in step) and are never changed after construction, so a
strategy reads them as it reads the live ones.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from backend.models.enums import OrderSide, OrderStatus, OrderType


class BacktestOrder:
    """OrderState's fields: a simulated order as it now stands."""

    __slots__ = (
        "filled_quantity",
        "id",
        "order_type",
        "price",
        "quantity",
        "reject_reason",
        "side",
        "status",
        "symbol",
        "updated_at",
    )

    def __init__(
        self,
        id: int,
        symbol: str,
        side: OrderSide,
        order_type: OrderType,
        status: OrderStatus,
        quantity: Decimal,
        filled_quantity: Decimal,
        price: Decimal | None,
        updated_at: datetime,
    ) -> None:
        self.id = id
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.status = status
        self.quantity = quantity
        self.filled_quantity = filled_quantity
        self.price = price
        self.reject_reason: str | None = None
        self.updated_at = updated_at


class BacktestTradeFill:
    """TradeFill's fields: one simulated execution, with the commission it cost."""

    __slots__ = (
        "commission",
        "gateway",
        "price",
        "quantity",
        "side",
        "symbol",
        "trade_time",
        "vt_orderid",
        "vt_tradeid",
    )

    def __init__(
        self,
        vt_tradeid: str,
        vt_orderid: str,
        symbol: str,
        gateway: str,
        side: OrderSide,
        price: Decimal,
        quantity: Decimal,
        commission: Decimal,
        trade_time: datetime,
    ) -> None:
        self.vt_tradeid = vt_tradeid
        self.vt_orderid = vt_orderid
        self.symbol = symbol
        self.gateway = gateway
        self.side = side
        self.price = price
        self.quantity = quantity
        self.commission = commission
        self.trade_time = trade_time
