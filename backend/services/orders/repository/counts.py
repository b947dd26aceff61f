"""The per-user open-order counts the triggers on `orders` keep (migration 0006)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.arrays import arrays, takes_arrays
from backend.models.order import OpenOrderCount
from backend.services.orders.repository import array_statements


async def open_order_counts(session: AsyncSession, user_ids: set[int]) -> dict[int, int]:
    """How many orders of each user are open, held until the caller's transaction ends.

    On PostgreSQL each user's row stays locked until the caller has stored the orders it
    accepted, in user id order so that two batches never wait on each other; SQLite has one
    writer at a time already.
    """
    counts = dict.fromkeys(user_ids, 0)
    if takes_arrays(session):
        counts.update(await lock_open_order_counts(session, user_ids))
        return counts
    statement = select(OpenOrderCount.user_id, OpenOrderCount.open_orders).where(
        OpenOrderCount.user_id.in_(user_ids)
    )
    counts.update({user_id: int(count) for user_id, count in await session.execute(statement)})
    return counts


async def lock_open_order_counts(session: AsyncSession, user_ids: set[int]) -> dict[int, int]:
    """PostgreSQL: lock these users' count rows (created at 0), in user id order; read them.

    Every transaction that takes more than one user's count takes them this way first, so
    none waits for another in a cycle. A no-op on SQLite (one writer at a time).
    """
    if not user_ids or not takes_arrays(session):
        return {}
    parameters = arrays("booked", user_id=list(user_ids))
    locked = await array_statements.LOCK_OPEN_ORDER_COUNTS.fetch(session, parameters)
    return {row["user_id"]: int(row["open_orders"]) for row in locked}
