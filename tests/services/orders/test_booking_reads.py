"""What booking reads: open-order exposure kept with the orders, and read after the lock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.models.enums import OrderSide, OrderStatus
from backend.services.orders.buying_power import Exposure
from backend.services.orders.owners import confirm_owners
from backend.services.orders.repository import ORDERS
from backend.services.orders.repository.books import (
    BookingReads,
    load_holdings,
    read_for_booking,
)
from tests.services.orders.rows import user_with_orders

S = OrderStatus
IF = "IF2412.CFFEX"
BALANCE = Decimal(10_000_000)


async def _exposure(container: AppContainer, user_id: int) -> dict[tuple[str, OrderSide], Exposure]:
    async with container.database.session() as session:
        [holdings] = (await load_holdings(session, [user_id], BALANCE)).values()
    return {key: exposure for key, exposure in holdings.exposure.items() if exposure.quantity}


def _order(user_id: int, reference: str, **values: object) -> dict[str, object]:
    now = utcnow()
    return {
        "user_id": user_id,
        "symbol": IF,
        "side": "BUY",
        "order_type": "limit",
        "quantity": Decimal(4),
        "price": Decimal("3400.2"),
        "hold_price": Decimal("3400.2"),
        "status": S.SUBMITTED,
        "filled_quantity": Decimal(0),
        "client_order_id": reference,
        "gateway": "PAPER",
        "replica": "test",
        "created_at": now,
        "updated_at": now,
        **values,
    }


async def test_exposure_follows_inserts_fills_and_deletes(container: AppContainer) -> None:
    """Remaining quantity and its value per contract and side, whatever statement changes an
    order (triggers on PostgreSQL, summed from the orders on SQLite)."""
    user_id, _ = await user_with_orders(container, "exposed")
    rows = [
        _order(user_id, "exposed-buy"),
        # A market order holds at the last price it was booked at.
        _order(
            user_id, "exposed-market", order_type="market", price=None, hold_price=Decimal(3500)
        ),
        _order(user_id, "exposed-sell", side="SELL", quantity=Decimal(2), hold_price=Decimal(3600)),
        _order(user_id, "exposed-done", status=S.REJECTED),
    ]
    async with container.database.session() as session:
        ids = list((await session.execute(insert(ORDERS).returning(ORDERS.c.id), rows)).scalars())
    buy, market, sell, _ = ids
    assert await _exposure(container, user_id) == {
        (IF, OrderSide.BUY): Exposure(Decimal(8), Decimal("4") * Decimal("3400.2") + 4 * 3500),
        (IF, OrderSide.SELL): Exposure(Decimal(2), Decimal(7200)),
    }

    async with container.database.session() as session:  # a partial fill, a fill
        await session.execute(
            update(ORDERS)
            .where(ORDERS.c.id == buy)
            .values(filled_quantity=Decimal(1), status=S.PARTIALLY_FILLED)
        )
        await session.execute(
            update(ORDERS)
            .where(ORDERS.c.id == market)
            .values(filled_quantity=Decimal(4), status=S.FILLED)
        )
    assert await _exposure(container, user_id) == {
        (IF, OrderSide.BUY): Exposure(Decimal(3), Decimal(3) * Decimal("3400.2")),
        (IF, OrderSide.SELL): Exposure(Decimal(2), Decimal(7200)),
    }

    async with container.database.session() as session:
        await session.execute(update(ORDERS).where(ORDERS.c.id == sell).values(status=S.CANCELLED))
        await session.execute(delete(ORDERS).where(ORDERS.c.id.in_(ids)))
    assert await _exposure(container, user_id) == {}


async def _waiting_for_a_lock(container: AppContainer, within: float = 10.0) -> None:
    """Until some session of this database waits for a row lock."""
    deadline = time.monotonic() + within
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        async with container.database.session() as session:
            if await session.scalar(query):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("no booking waited for the lock")


BookingRead = Callable[[AsyncSession, int], Awaitable[BookingReads]]


async def _booking_behind_a_commit(
    container: AppContainer, name: str, read: BookingRead
) -> tuple[int, dict[tuple[str, OrderSide], Exposure]]:
    """A first booking reads and inserts an order; a second `read`s the same user's books
    meanwhile (and waits for its lock); the first commits. What the second read: its open
    orders and exposure. PostgreSQL only (SQLite has one writer)."""
    if not container.database.uses_asyncpg:
        pytest.skip("row locks are PostgreSQL's (SQLite has one writer): needs TEST_DATABASE_URL")
    user_id, _ = await user_with_orders(container, name)
    async with container.database.session() as first:
        before = await read_for_booking(first, {user_id}, BALANCE)
        assert before.holdings[user_id].exposure == {}
        await first.execute(insert(ORDERS), [_order(user_id, f"{name}-1")])

        async def second_booking() -> tuple[int, dict[tuple[str, OrderSide], Exposure]]:
            async with container.database.session() as second:
                reads = await read(second, user_id)
            return reads.open_orders[user_id], reads.holdings[user_id].exposure

        second = asyncio.create_task(second_booking())
        await _waiting_for_a_lock(container)
        await first.commit()
    return await second


async def test_a_booking_that_waited_reads_what_the_other_committed(
    container: AppContainer,
) -> None:
    """Two bookings of one user (on two replicas, say): the second waits for the first's
    lock, and then sees the first's orders, although its statement began before they were
    committed."""

    async def read(session: AsyncSession, user_id: int) -> BookingReads:
        return await read_for_booking(session, {user_id}, BALANCE)

    open_orders, exposure = await _booking_behind_a_commit(container, "contended", read)
    assert open_orders == 1
    assert exposure == {(IF, OrderSide.BUY): Exposure(Decimal(4), 4 * Decimal("3400.2"))}


async def test_a_booking_whose_owner_check_waited_reads_what_the_other_committed(
    container: AppContainer,
) -> None:
    """The same through the booking's one statement (owner check, key claims, books): it
    reads the books again under the lock it waited for."""

    async def read(session: AsyncSession, user_id: int) -> BookingReads:
        refusals, _, reads = await confirm_owners(session, {user_id}, [], utcnow(), BALANCE)
        assert refusals == {}
        return reads

    open_orders, exposure = await _booking_behind_a_commit(container, "contended-owner", read)
    assert open_orders == 1
    assert exposure == {(IF, OrderSide.BUY): Exposure(Decimal(4), 4 * Decimal("3400.2"))}
