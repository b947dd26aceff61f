"""The orders and fills a backtest hands its strategy: cheap look-alikes of the live ones.

A million-bar replay can fill a hundred thousand orders; building a pydantic OrderRead or the
frozen TradeFill dataclass costs more per fill than everything else the fill does. These
named tuples carry exactly the fields a strategy reads (domain.market.OrderState, TradeFill;
a test keeps them in step) and cannot change after construction, so a strategy reads them as
it reads the live ones. The simulator builds them with `tuple.__new__` from a tuple of all
fields, which runs no Python at all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from backend.models.enums import OrderSide, OrderStatus, OrderType


class BacktestOrder(NamedTuple):
    """OrderState's fields: a simulated order as it now stands."""

    id: int
    symbol: str
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal
    price: Decimal | None
    updated_at: datetime
    reject_reason: str | None = None


class BacktestTradeFill(NamedTuple):
    """TradeFill's fields: one simulated execution, with the commission it cost."""

    vt_tradeid: str
    vt_orderid: str
    symbol: str
    gateway: str
    side: OrderSide
    price: Decimal
    quantity: Decimal
    commission: Decimal
    trade_time: datetime
