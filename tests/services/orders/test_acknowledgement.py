"""Recording submissions after routing: the guarded UPDATE on PostgreSQL and on SQLite."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert

from backend.core.container import AppContainer
from backend.core.database.base import utcnow
from backend.models.enums import OrderStatus
from backend.models.user import User
from backend.services.orders.bulk import ORDERS
from backend.services.orders.intake import _mark_rejected, _mark_submitted


async def _orders(container: AppContainer, *statuses: OrderStatus) -> list[int]:
    now = utcnow()
    async with container.database.session() as session:
        user = User(username="ack", email="ack@example.com", hashed_password="x")
        session.add(user)
        await session.flush()
        rows = [
            {
                "user_id": user.id,
                "symbol": "IF2412.CFFEX",
                "side": "BUY",
                "order_type": "limit",
                "quantity": Decimal(1),
                "price": Decimal("3400.2"),
                "status": status,
                "filled_quantity": Decimal(1) if status is OrderStatus.FILLED else Decimal(0),
                "client_order_id": f"ack-{index}",
                "gateway": "PAPER",
                "replica": "test",
                "created_at": now,
                "updated_at": now,
            }
            for index, status in enumerate(statuses)
        ]
        result = await session.execute(insert(ORDERS).returning(ORDERS.c.id), rows)
        return list(result.scalars())


async def test_pending_orders_move_to_submitted_with_their_gateway_ids(
    container: AppContainer,
) -> None:
    first, second = await _orders(container, OrderStatus.PENDING, OrderStatus.PENDING)
    async with container.database.session() as session:
        moved, rows = await _mark_submitted(session, {first: "PAPER.1", second: "PAPER.2"})
    assert moved == {first, second}
    assert {order_id: (row.status, row.vt_orderid) for order_id, row in rows.items()} == {
        first: (OrderStatus.SUBMITTED, "PAPER.1"),
        second: (OrderStatus.SUBMITTED, "PAPER.2"),
    }
    assert rows[first].price == Decimal("3400.2")


async def test_an_order_the_gateway_events_moved_on_keeps_its_status(
    container: AppContainer,
) -> None:
    """A fill booked before the acknowledgement: the order stays filled and gets its id."""
    pending, filled = await _orders(container, OrderStatus.PENDING, OrderStatus.FILLED)
    async with container.database.session() as session:
        moved, rows = await _mark_submitted(session, {pending: "PAPER.3", filled: "PAPER.4"})
    assert moved == {pending}
    assert (rows[filled].status, rows[filled].vt_orderid) == (OrderStatus.FILLED, "PAPER.4")
    assert rows[pending].status is OrderStatus.SUBMITTED


async def test_orders_the_gateway_refused_are_rejected_unless_already_final(
    container: AppContainer,
) -> None:
    pending, cancelled = await _orders(container, OrderStatus.PENDING, OrderStatus.CANCELLED)
    failed = {pending: "gateway_error: down", cancelled: "gateway_error: down"}
    async with container.database.session() as session:
        refused, rows = await _mark_rejected(session, failed)
    assert refused == {pending}
    assert (rows[pending].status, rows[pending].reject_reason) == (
        OrderStatus.REJECTED,
        "gateway_error: down",
    )
    assert rows[cancelled].status is OrderStatus.CANCELLED
