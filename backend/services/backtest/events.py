"""The order updates and fills a backtest hands its strategy: cheap look-alikes of vnpy's.

A million-bar replay can fill a hundred thousand orders; building the frozen OrderUpdate and
TradeFill dataclasses costs more per fill than everything else the fill does. These plain
slotted classes carry exactly the same fields (a test keeps them in step) and are never
changed after construction, so a strategy reads them as it reads the live ones.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from backend.models.enums import OrderSide, OrderStatus, OrderType


class BacktestOrderUpdate:
    """OrderUpdate's fields: an order's state as the simulated exchange reports it."""

    __slots__ = (
        "gateway",
        "order_type",
        "price",
        "quantity",
        "reference",
        "reject_reason",
        "side",
        "status",
        "symbol",
        "traded",
        "update_time",
        "vt_orderid",
    )

    def __init__(
        self,
        vt_orderid: str,
        symbol: str,
        gateway: str,
        side: OrderSide,
        order_type: OrderType | None,
        status: OrderStatus,
        quantity: Decimal,
        traded: Decimal,
        price: Decimal | None,
        update_time: datetime | None,
    ) -> None:
        self.vt_orderid = vt_orderid
        self.symbol = symbol
        self.gateway = gateway
        self.side = side
        self.order_type = order_type
        self.status = status
        self.quantity = quantity
        self.traded = traded
        self.price = price
        self.reference = "backtest"
        self.reject_reason: str | None = None
        self.update_time = update_time


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
