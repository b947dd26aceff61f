"""The order controls, as a typed dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from backend.api.deps.connection import container_of
from backend.services.orders.controls import OrderControls


async def get_order_controls(connection: HTTPConnection) -> OrderControls:
    """Cancel all, close a position, amend, orders by client order id."""
    return OrderControls(container_of(connection).trading.orders)


OrderControlsDep = Annotated[OrderControls, Depends(get_order_controls)]
