"""RedFire order parameters -> vnpy OrderRequest."""

from __future__ import annotations

from decimal import Decimal

from vnpy.trader.constant import Offset
from vnpy.trader.object import OrderRequest

from backend.models.enums import OrderSide, OrderType
from backend.services.vnpy.conversions import (
    ORDER_TYPE_TO_VNPY,
    SIDE_TO_DIRECTION,
    split_vt_symbol,
    to_float,
)
from backend.services.vnpy.errors import InvalidOrderError


def build_order_request(
    vt_symbol: str,
    side: OrderSide,
    order_type: OrderType,
    quantity: Decimal,
    price: Decimal | None,
    reference: str,
) -> OrderRequest:
    """A vnpy OrderRequest; a RedFire stop becomes vnpy's STOP, a market order has price 0.

    RedFire has no open/close offset: orders go as Offset.NONE (net position), which is
    what PAPER and crypto gateways expect; CTP-style gateways would need an offset policy.
    """
    try:
        symbol, exchange = split_vt_symbol(vt_symbol)
        if not (quantity.is_finite() and quantity > 0):
            raise ValueError(f"quantity must be positive, not {quantity}")
        if order_type == OrderType.MARKET:
            vnpy_price = 0.0
        elif price is None or not (price.is_finite() and price > 0):
            raise ValueError(f"a {order_type} order needs a positive price, not {price}")
        else:
            vnpy_price = to_float(price)
        volume = to_float(quantity)
    except ValueError as exc:
        raise InvalidOrderError(str(exc)) from None
    return OrderRequest(
        symbol=symbol,
        exchange=exchange,
        direction=SIDE_TO_DIRECTION[side],
        type=ORDER_TYPE_TO_VNPY[order_type],
        volume=volume,
        price=vnpy_price,
        offset=Offset.NONE,
        reference=reference,
    )
