"""Reads of the order controls: open orders by filter, statuses, held positions."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Row, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models.account import Position
from backend.models.enums import OrderSide, OrderStatus
from backend.models.order import Order


async def open_orders_matching(
    session: AsyncSession,
    user_id: int,
    *,
    symbol: str | None,
    side: OrderSide | None,
    strategy_id: int | None,
) -> Sequence[Row[int, str | None, str]]:
    """(id, vt_orderid, replica) of the user's open orders that match every filter given."""
    statement = select(Order.id, Order.vt_orderid, Order.replica).where(
        Order.user_id == user_id, Order.status.in_(OrderStatus.open_statuses())
    )
    if symbol is not None:
        statement = statement.where(Order.symbol == symbol)
    if side is not None:
        statement = statement.where(Order.side == side)
    if strategy_id is not None:
        statement = statement.where(Order.strategy_id == strategy_id)
    return (await session.execute(statement.order_by(Order.id))).all()


async def order_statuses(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, OrderStatus]:
    """Each order's status as committed."""
    if not order_ids:
        return {}
    statement = select(Order.id, Order.status).where(Order.id.in_(order_ids))
    return {row.id: row.status for row in await session.execute(statement)}


async def held_quantity(session: AsyncSession, user_id: int, symbol: str) -> Decimal:
    """The user's signed position in `symbol` (0 when none)."""
    statement = select(Position.quantity).where(
        Position.user_id == user_id, Position.symbol == symbol
    )
    return (await session.scalar(statement)) or Decimal(0)


async def owned_by_client_id(
    session: AsyncSession, *, user_id: int, client_order_id: str
) -> Order | None:
    """The user's order with this client order id, or None."""
    statement = select(Order).where(Order.user_id == user_id, Order.client_ref == client_order_id)
    return await session.scalar(statement)


async def taken_client_ids(
    session: AsyncSession, wanted: set[tuple[int, str]]
) -> list[tuple[int, str]]:
    """Which of these (user, client order id) pairs an order already has."""
    statement = select(Order.user_id, Order.client_ref).where(
        tuple_(Order.user_id, Order.client_ref).in_(list(wanted))
    )
    return [(user_id, client_ref) for user_id, client_ref in await session.execute(statement)]


async def replaced_orders(session: AsyncSession, order_ids: set[int]) -> set[int]:
    """Which of these orders another order replaced already."""
    statement = select(Order.replaces_order_id).where(Order.replaces_order_id.in_(order_ids))
    return {order_id for order_id in await session.scalars(statement) if order_id is not None}


async def release_client_id(session: AsyncSession, order_id: int) -> None:
    """Give a replaced order its RedFire reference back as client id (its replacement takes
    the client's)."""
    await session.execute(
        update(Order).where(Order.id == order_id).values(client_ref=Order.client_order_id)
    )
