"""Recording submissions after routing: the guarded UPDATE on PostgreSQL and on SQLite, and
the gateway's acknowledgements held while the intake records them itself."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.domain.market import OrderUpdate
from backend.models.enums import OrderSide, OrderStatus, OrderType
from backend.schemas.orders import OrderCreate, OrderRead
from backend.services.orders.idempotency import KeyClaim
from backend.services.orders.intake.acknowledgement import OrderAcknowledgement
from backend.services.orders.intake.routing import Routed
from backend.services.orders.intake.submission import OrderResult, Submission
from backend.services.orders.repository import (
    ORDERS,
    current_orders,
    insert_keys,
    mark_rejected,
    mark_submitted,
    stored_keys,
)
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


TICKET = {"symbol": "IF2412.CFFEX", "side": "BUY", "order_type": "limit", "quantity": "1"}


async def _booked(
    container: AppContainer, name: str, *statuses: OrderStatus
) -> tuple[list[Submission], list[asyncio.Future[OrderResult]]]:
    """Keyed orders as their booking left them (each key claimed, each row as inserted:
    pending, or rejected by risk); one stored in another status was moved on since."""
    user_id, ids = await user_with_orders(container, name, *statuses)
    now = utcnow()
    claims = [KeyClaim(user_id, f"{name}-{order_id}", "fingerprint") for order_id in ids]
    async with container.database.session() as session:
        await insert_keys(
            session, [(*claim.ident, claim.fingerprint) for claim in claims], now, now
        )
        rows = await current_orders(session, ids)
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[OrderResult]] = [loop.create_future() for _ in ids]
    request = OrderCreate.model_validate({**TICKET, "price": "3400.2"})
    booked = []
    for order_id, claim, future in zip(ids, claims, futures, strict=True):
        submission = Submission(user_id, request, claim, future)
        submission.order_id = order_id
        row = rows[order_id]
        if row["status"] == OrderStatus.REJECTED:
            submission.reject("max_order_quantity", 0, 1)
        else:
            row = {**row, "status": OrderStatus.PENDING}
        submission.row = row
        booked.append(submission)
    return booked, futures


async def _replays(container: AppContainer, booked: list[Submission]) -> dict[int, Any]:
    """Each order's stored answer (what a retry of its key replays)."""
    keys = {s.order_id: s.claim.ident for s in booked if s.claim is not None}
    async with container.database.session() as session:
        stored = await stored_keys(session, keys.values())
    return {order_id: stored[ident].response_body for order_id, ident in keys.items()}


async def test_routed_orders_are_recorded_and_answered_as_stored(
    container: AppContainer,
) -> None:
    """Each caller's answer, and its key's replay, is the order exactly as stored."""
    booked, futures = await _booked(container, "once", OrderStatus.PENDING, OrderStatus.PENDING)
    routed = Routed(taken={s.order_id: f"PAPER.once-{s.order_id}" for s in booked})
    announced = await OrderAcknowledgement(container.database).acknowledge(booked, routed)
    stored = [await _stored(container, s.order_id) for s in booked]
    assert [order.status for order in stored] == [OrderStatus.SUBMITTED] * 2
    assert [future.result().order for future in futures] == stored
    assert [json.loads(future.result().body) for future in futures] == [
        order.model_dump(mode="json") for order in stored
    ]
    assert list((await _replays(container, booked)).values()) == [
        order.model_dump(mode="json") for order in stored
    ]
    assert announced is not None
    assert announced.submitted == stored
    assert announced.rejected == []
    async with container.database.session() as session:
        gateway_ids = await session.scalars(
            select(ORDERS.c.vt_orderid).where(ORDERS.c.id.in_(routed.taken)).order_by(ORDERS.c.id)
        )
        assert list(gateway_ids) == list(routed.taken.values())


async def test_an_order_moved_on_before_its_acknowledgement_is_answered_as_it_stands(
    container: AppContainer,
) -> None:
    """Cancelled between routing and the acknowledgement: it stays cancelled, gets its
    gateway id, and its caller and key are answered with it cancelled."""
    booked, futures = await _booked(container, "moved", OrderStatus.PENDING, OrderStatus.CANCELLED)
    routed = Routed(taken={s.order_id: f"PAPER.moved-{s.order_id}" for s in booked})
    announced = await OrderAcknowledgement(container.database).acknowledge(booked, routed)
    submitted, cancelled = [await _stored(container, s.order_id) for s in booked]
    assert (submitted.status, cancelled.status) == (OrderStatus.SUBMITTED, OrderStatus.CANCELLED)
    assert [future.result().order for future in futures] == [submitted, cancelled]
    replays = await _replays(container, booked)
    assert replays == {
        submitted.id: submitted.model_dump(mode="json"),
        cancelled.id: cancelled.model_dump(mode="json"),
    }
    assert announced is not None
    assert announced.submitted == [submitted]  # only what this acknowledgement moved
    async with container.database.session() as session:
        gateway_id = await session.scalar(
            select(ORDERS.c.vt_orderid).where(ORDERS.c.id == cancelled.id)
        )
    assert gateway_id == routed.taken[cancelled.id]


async def test_an_order_risk_rejected_at_booking_is_answered_beside_routed_ones(
    container: AppContainer,
) -> None:
    booked, futures = await _booked(container, "risk", OrderStatus.PENDING, OrderStatus.REJECTED)
    routed = Routed(taken={booked[0].order_id: "PAPER.risk-1"})
    announced = await OrderAcknowledgement(container.database).acknowledge(booked, routed)
    submitted, rejected = [await _stored(container, s.order_id) for s in booked]
    assert (submitted.status, rejected.status) == (OrderStatus.SUBMITTED, OrderStatus.REJECTED)
    assert [future.result().order for future in futures] == [submitted, rejected]
    assert await _replays(container, booked) == {
        submitted.id: submitted.model_dump(mode="json"),
        rejected.id: rejected.model_dump(mode="json"),
    }
    assert announced is not None
    assert (announced.submitted, announced.rejected) == ([submitted], [rejected])
