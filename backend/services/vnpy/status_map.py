"""vnpy order `Status` -> RedFire `OrderStatus`, complete by construction (tested)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from vnpy.trader.constant import Status

from backend.models.enums import OrderStatus

VNPY_STATUS_TO_ORDER_STATUS: Mapping[Status, OrderStatus] = MappingProxyType(
    {
        # vnpy's SUBMITTING means "sent, not yet acknowledged": RedFire's pending -> submitted
        # move happens when the order leaves for the gateway, so both are `submitted`.
        Status.SUBMITTING: OrderStatus.SUBMITTED,
        Status.NOTTRADED: OrderStatus.SUBMITTED,
        Status.PARTTRADED: OrderStatus.PARTIALLY_FILLED,
        Status.ALLTRADED: OrderStatus.FILLED,
        Status.CANCELLED: OrderStatus.CANCELLED,
        Status.REJECTED: OrderStatus.REJECTED,
    }
)


def to_order_status(status: Status) -> OrderStatus:
    """The RedFire status of a vnpy order status."""
    return VNPY_STATUS_TO_ORDER_STATUS[status]
