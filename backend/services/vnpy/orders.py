"""RedFire order tickets -> vnpy OrderRequest."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from vnpy.trader.constant import Offset
from vnpy.trader.constant import OrderType as VnpyOrderType
from vnpy.trader.object import OrderRequest

from backend.domain.market import OrderTicket
from backend.models.enums import OrderType, TimeInForce
from backend.services.vnpy.conversions import (
    SIDE_TO_DIRECTION,
    split_vt_symbol,
    to_float,
)
from backend.services.vnpy.errors import InvalidOrderError

# vnpy's order type of each (order type, time in force) RedFire sends: a limit order that
# must not rest is vnpy's FAK (IOC) or FOK; a market order is IOC already (its rest is
# cancelled). A market FOK and a stop with a time in force have no vnpy equivalent.
VNPY_ORDER_TYPES: Mapping[tuple[OrderType, TimeInForce], VnpyOrderType] = MappingProxyType(
    {
        (OrderType.LIMIT, TimeInForce.GTC): VnpyOrderType.LIMIT,
        (OrderType.LIMIT, TimeInForce.IOC): VnpyOrderType.FAK,
        (OrderType.LIMIT, TimeInForce.FOK): VnpyOrderType.FOK,
        (OrderType.MARKET, TimeInForce.GTC): VnpyOrderType.MARKET,
        (OrderType.MARKET, TimeInForce.IOC): VnpyOrderType.MARKET,
        (OrderType.STOP, TimeInForce.GTC): VnpyOrderType.STOP,
    }
)


def supports_time_in_force(order_type: OrderType, time_in_force: TimeInForce) -> bool:
    """Whether an order of this type can be sent with this time in force."""
    return (order_type, time_in_force) in VNPY_ORDER_TYPES


def build_order_request(ticket: OrderTicket) -> OrderRequest:
    """A vnpy OrderRequest; a RedFire stop becomes vnpy's STOP, a market order has price 0.

    RedFire has no open/close offset: orders go as Offset.NONE (net position), which is
    what PAPER and crypto gateways expect; CTP-style gateways would need an offset policy.
    """
    order_type, quantity, price = ticket.order_type, ticket.quantity, ticket.price
    vnpy_type = VNPY_ORDER_TYPES.get((order_type, ticket.time_in_force))
    if vnpy_type is None:
        raise InvalidOrderError(f"a {order_type} order cannot be {ticket.time_in_force}")
    try:
        symbol, exchange = split_vt_symbol(ticket.symbol)
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
        direction=SIDE_TO_DIRECTION[ticket.side],
        type=vnpy_type,
        volume=volume,
        price=vnpy_price,
        offset=Offset.NONE,
        reference=ticket.reference,
    )
