"""Statements that settle a replica's open orders in bulk (reconciliation.py), both databases.

A restart with tens of thousands of orders resting must not load each into the ORM: the open
orders are read as (id, reference, gateway id, status, side), and each group of them is
written by one UPDATE per SETTLE_CHUNK orders. Only an order whose Idempotency-Key was never
answered (its request died) is read in full, to answer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models.enums import OrderSide, OrderStatus
from backend.services.orders.repository.tables import KEYS, ORDERS

# Ids per UPDATE: well under SQLite's limit of bound parameters per statement.
SETTLE_CHUNK = 1000
_OPEN = ORDERS.c.status.in_(OrderStatus.open_statuses())


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """What settling an open order needs to know of it."""

    id: int
    client_order_id: str
    vt_orderid: str | None
    status: OrderStatus
    side: OrderSide


async def lock_open_orders(session: AsyncSession, replica: str) -> list[OpenOrder]:
    """The open orders `replica` owns, locked until the caller's transaction ends."""
    statement = (
        select(
            ORDERS.c.id,
            ORDERS.c.client_order_id,
            ORDERS.c.vt_orderid,
            ORDERS.c.status,
            ORDERS.c.side,
        )
        .where(ORDERS.c.replica == replica, _OPEN)
        .order_by(ORDERS.c.id)
        .with_for_update()
    )
    rows = await session.execute(statement)
    return [
        OpenOrder(order_id, reference, vt_orderid, OrderStatus(status), OrderSide(side))
        for order_id, reference, vt_orderid, status, side in rows
    ]


async def orders_with_unanswered_keys(session: AsyncSession, replica: str) -> set[int]:
    """`replica`'s open orders whose Idempotency-Key has no answer: their request died."""
    statement = (
        select(KEYS.c.order_id)
        .join(ORDERS, ORDERS.c.id == KEYS.c.order_id)
        .where(ORDERS.c.replica == replica, _OPEN, KEYS.c.response_status.is_(None))
    )
    return {order_id for order_id in (await session.scalars(statement)) if order_id is not None}


async def write_orders(
    session: AsyncSession, order_ids: Sequence[int], now: datetime, **values: Any
) -> None:
    """Set `values` (and `updated_at`) on these orders, SETTLE_CHUNK to a statement."""
    for start in range(0, len(order_ids), SETTLE_CHUNK):
        chunk = order_ids[start : start + SETTLE_CHUNK]
        statement = update(ORDERS).where(ORDERS.c.id.in_(chunk))
        await session.execute(statement.values(**values, updated_at=now))
