"""Reconciliation: no order stays open without a gateway order behind it.

At start-up a replica settles the orders it left open itself; when a replica is gone for good
(see ReplicaRegistry), a live one settles that replica's orders against its own gateways.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.enums import OrderStatus
from backend.schemas.orders import OrderRead
from backend.services.orders import repository, state_machine
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.ports import MarketAccess
from backend.services.orders.repository import settlement

logger = structlog.get_logger(__name__)
LOST_ON_RESTART = "lost_on_restart"


async def reconcile_open_orders(
    database: AsyncDatabaseManager,
    market: MarketAccess,
    events: OrderEventProcessor,
    *,
    replica: str,
) -> int:
    """Settle this replica's open orders against its gateways; return how many were rejected."""
    async with database.session() as session:
        return await settle_open_orders(session, market, events, owner=replica, replica=replica)


async def settle_open_orders(
    session: AsyncSession,
    market: MarketAccess,
    events: OrderEventProcessor,
    *,
    owner: str,
    replica: str,
) -> int:
    """Settle `owner`'s open orders against `replica`'s gateways; return how many were rejected.

    An order the gateways no longer know is rejected (`lost_on_restart`); one they still know
    is taken over by `replica`, whose events keep it moving. Keys whose request died before
    answering are answered with the order as it now stands. Written in bulk (a restart may
    find tens of thousands resting), each order along the state machine's moves.
    """
    open_orders = await settlement.lock_open_orders(session, owner)
    unanswered = await settlement.orders_with_unanswered_keys(session, owner)
    lost: list[int] = []
    cancelled: list[int] = []
    taken_over: list[int] = []
    for order in open_orders:
        known = market.get_order(order.vt_orderid) if order.vt_orderid else None
        if known is None or known.status is OrderStatus.REJECTED:
            _record_moves(order, OrderStatus.REJECTED)
            lost.append(order.id)
            continue
        events.remember(known.vt_orderid, order.client_order_id)
        if known.status is OrderStatus.CANCELLED:
            _record_moves(order, OrderStatus.CANCELLED)
            cancelled.append(order.id)
        elif owner != replica:
            taken_over.append(order.id)
    now = utcnow()
    reason = {"status": OrderStatus.REJECTED, "reject_reason": LOST_ON_RESTART}
    await settlement.write_orders(session, lost, now, **reason)
    cancel = {"status": OrderStatus.CANCELLED, "replica": replica}
    await settlement.write_orders(session, cancelled, now, **cancel)
    await settlement.write_orders(session, taken_over, now, replica=replica)
    abandoned = await repository.current_orders(session, list(unanswered))
    await repository.answer_abandoned_keys(
        session, [OrderRead.model_validate(row) for row in abandoned.values()]
    )
    if lost:
        logger.warning("orders_reconciled", owner=owner, rejected=len(lost), reason=LOST_ON_RESTART)
    return len(lost)


def _record_moves(order: settlement.OpenOrder, target: OrderStatus) -> None:
    """Count the order's moves to `target` (every open order may be rejected or cancelled;
    a pending one passes through `submitted` on its way to `cancelled`)."""
    steps = state_machine.path_to(order.status, target)
    assert steps, f"{order.status} -> {target} is not on the order state machine"
    for step in steps:
        state_machine.record(step, order.side)
