"""The per-user open-order count that booking reads: kept by triggers on every write to orders."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from backend.app.container import AppContainer
from backend.core.database.conflicts import aborted_by_conflict
from backend.models.enums import OrderStatus
from backend.models.order import OpenOrderCount, Order
from backend.models.user import User
from backend.services.orders.repository import (
    ORDERS,
    lock_open_order_counts,
    open_order_counts,
)
from tests.services.orders.rows import user_with_orders

S = OrderStatus


async def _user_with_orders(
    container: AppContainer, *statuses: OrderStatus
) -> tuple[int, list[int]]:
    return await user_with_orders(container, "counted", *statuses)


async def _kept_and_counted(container: AppContainer, user_id: int) -> tuple[int, int]:
    """The count the triggers kept, and the orders actually open."""
    async with container.database.session() as session:
        kept = await open_order_counts(session, {user_id})
        counted = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.user_id == user_id, Order.status.in_(OrderStatus.open_statuses()))
        )
    return kept[user_id], int(counted or 0)


async def test_the_count_follows_inserts_updates_and_deletes(container: AppContainer) -> None:
    user_id, ids = await _user_with_orders(container, S.PENDING, S.PENDING, S.SUBMITTED, S.REJECTED)
    assert await _kept_and_counted(container, user_id) == (3, 3)

    # One statement over several rows: open -> open, open -> closed, open -> open.
    moves = {ids[0]: S.SUBMITTED, ids[1]: S.CANCELLED, ids[2]: S.PARTIALLY_FILLED}
    async with container.database.session() as session:
        await session.execute(
            update(ORDERS)
            .where(ORDERS.c.id.in_(moves))
            .values(status=case(moves, value=ORDERS.c.id))
        )
    assert await _kept_and_counted(container, user_id) == (2, 2)

    # An ORM flush, as the gateway events book a fill.
    async with container.database.session() as session:
        order = await session.get(Order, ids[0])
        assert order is not None
        order.status = S.FILLED
    assert await _kept_and_counted(container, user_id) == (1, 1)

    async with container.database.session() as session:
        await session.execute(delete(ORDERS).where(ORDERS.c.id.in_([ids[2], ids[3]])))
    assert await _kept_and_counted(container, user_id) == (0, 0)


async def test_a_user_without_orders_counts_zero(container: AppContainer) -> None:
    user_id, _ = await _user_with_orders(container)
    assert await _kept_and_counted(container, user_id) == (0, 0)
    async with container.database.session() as session:
        stored = await session.get(OpenOrderCount, user_id)
    # PostgreSQL creates the row that booking locks; SQLite reads no row as zero.
    assert stored is None or stored.open_orders == 0


async def test_a_lock_cycle_aborts_one_side_as_a_conflict_booking_retries(
    container: AppContainer,
) -> None:
    """Two transactions taking two users' counts in opposite orders: PostgreSQL breaks the
    cycle, and what the loser raises is what the booking retries on."""
    if not container.database.uses_asyncpg:
        pytest.skip("row locks and deadlock detection are PostgreSQL's: needs TEST_DATABASE_URL")
    first, _ = await _user_with_orders(container)
    async with container.database.session() as session:
        user = User(username="counted-2", email="counted-2@example.com", hashed_password="x")
        session.add(user)
        await session.flush()
        second = user.id
    holding = [asyncio.Event(), asyncio.Event()]

    async def take(order: tuple[int, int], mine: asyncio.Event, theirs: asyncio.Event) -> None:
        async with container.database.session() as session:
            await lock_open_order_counts(session, {order[0]})
            mine.set()
            await theirs.wait()
            await lock_open_order_counts(session, {order[1]})

    outcomes = await asyncio.gather(
        take((first, second), holding[0], holding[1]),
        take((second, first), holding[1], holding[0]),
        return_exceptions=True,
    )
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(errors) == 1, outcomes  # one side lost, the other went on
    assert isinstance(errors[0], DBAPIError)
    assert aborted_by_conflict(errors[0])
