"""The order endpoints' binders (binding.py): their arguments, read by hand when plainly valid."""

from __future__ import annotations

from fastapi import Request

from backend.api.binding import Arguments, idempotency_key, json_body, resource_id
from backend.schemas.orders import OrderCreate


async def order_ticket_arguments(connection: Request) -> Arguments | None:
    """place_order's body and Idempotency-Key."""
    order = await json_body(connection, OrderCreate)
    valid_key, key = idempotency_key(connection)
    if order is None or not valid_key:
        return None
    return {"request": order, "connection": connection, "idempotency_key": key}


async def order_id_arguments(connection: Request) -> Arguments | None:
    """get_order's order id."""
    value = resource_id(connection, "order_id")
    return None if value is None else {"order_id": value, "connection": connection}
