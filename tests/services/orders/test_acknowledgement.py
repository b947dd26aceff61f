"""Recording submissions after routing: the guarded UPDATE on PostgreSQL and on SQLite, and
the gateway's acknowledgements held while the intake records them itself."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from backend.app.container import AppContainer
from backend.domain.market import OrderUpdate
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.schemas.orders import OrderRead
from backend.services.orders.repository import ORDERS, mark_rejected, mark_submitted
from tests.services.orders.rows import user_with_orders


async def _orders(container: AppContainer, *statuses: OrderStatus) -> list[int]:
    _, ids = await user_with_orders(container, "ack", *statuses)
    return ids


async def test_pending_orders_move_to_submitted_with_their_gateway_ids(
    container: AppContainer,
) -> None:
    first, second = await _orders(container, OrderStatus.PENDING, OrderStatus.PENDING)
    async with container.database.session() as session:
        moved, rows = await mark_submitted(session, {first: "PAPER.1", second: "PAPER.2"})
    assert moved == {first, second}
    assert {order_id: (row["status"], row["vt_orderid"]) for order_id, row in rows.items()} == {
        first: (OrderStatus.SUBMITTED, "PAPER.1"),
        second: (OrderStatus.SUBMITTED, "PAPER.2"),
    }
    assert rows[first]["price"] == Decimal("3400.2")


async def test_an_order_the_gateway_events_moved_on_keeps_its_status(
    container: AppContainer,
) -> None:
    """A fill booked before the acknowledgement: the order stays filled and gets its id."""
    pending, filled = await _orders(container, OrderStatus.PENDING, OrderStatus.FILLED)
    async with container.database.session() as session:
        moved, rows = await mark_submitted(session, {pending: "PAPER.3", filled: "PAPER.4"})
    assert moved == {pending}
    assert (rows[filled]["status"], rows[filled]["vt_orderid"]) == (OrderStatus.FILLED, "PAPER.4")
    assert rows[pending]["status"] == OrderStatus.SUBMITTED


async def test_orders_the_gateway_refused_are_rejected_unless_already_final(
    container: AppContainer,
) -> None:
    pending, cancelled = await _orders(container, OrderStatus.PENDING, OrderStatus.CANCELLED)
    failed = {pending: "gateway_error: down", cancelled: "gateway_error: down"}
    async with container.database.session() as session:
        refused, rows = await mark_rejected(session, failed)
    assert refused == {pending}
    assert (rows[pending]["status"], rows[pending]["reject_reason"]) == (
        OrderStatus.REJECTED,
        "gateway_error: down",
    )
    assert rows[cancelled]["status"] == OrderStatus.CANCELLED


def _acknowledgement(vt_orderid: str, reference: str) -> OrderUpdate:
    """The gateway saying it took the order (vnpy NOTTRADED)."""
    return OrderUpdate(
        vt_orderid=vt_orderid,
        symbol="IF2412.CFFEX",
        gateway="PAPER",
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        status=OrderStatus.SUBMITTED,
        quantity=Decimal(1),
        traded=Decimal(0),
        price=Decimal("3400.2"),
        reference=reference,
        reject_reason=None,
        update_time=None,
    )


async def _stored(container: AppContainer, order_id: int) -> OrderRead:
    async with container.database.session() as session:
        row = (await session.execute(select(ORDERS).where(ORDERS.c.id == order_id))).one()
    return OrderRead.model_validate(row._asdict())


async def _held_acknowledgement(container: AppContainer) -> tuple[int, list[OrderRead]]:
    """A pending order whose acknowledgement arrived while the intake holds it."""
    (order_id,) = await _orders(container, OrderStatus.PENDING)
    events = container.trading.events
    heard: list[OrderRead] = []

    async def listener(order: OrderRead) -> None:
        heard.append(order)

    events.add_order_listener(listener)
    events.remember("PAPER.held", "ack-0")
    events.hold_acknowledgement("PAPER.held")
    await events.on_event(_acknowledgement("PAPER.held", "ack-0"))
    await events.drain()
    assert (await _stored(container, order_id)).status is OrderStatus.PENDING  # held
    assert heard == []
    return order_id, heard


async def test_a_held_acknowledgement_is_dropped_once_the_intake_committed(
    container: AppContainer,
) -> None:
    order_id, heard = await _held_acknowledgement(container)
    announced = (await _stored(container, order_id)).model_copy(
        update={"status": OrderStatus.SUBMITTED}
    )
    await container.trading.events.acknowledged(
        ["PAPER.held"], committed=True, submitted=[announced]
    )
    await container.trading.events.drain()
    assert heard == [announced]  # the intake's announcement, once
    # The gateway's acknowledgement never reached the books (the intake wrote them).
    assert (await _stored(container, order_id)).status is OrderStatus.PENDING


async def test_a_held_acknowledgement_is_applied_when_the_intake_did_not_commit(
    container: AppContainer,
) -> None:
    order_id, heard = await _held_acknowledgement(container)
    await container.trading.events.acknowledged(["PAPER.held"], committed=False, submitted=[])
    await container.trading.events.drain()
    stored = await _stored(container, order_id)
    assert stored.status is OrderStatus.SUBMITTED
    assert [order.status for order in heard] == [OrderStatus.SUBMITTED]
