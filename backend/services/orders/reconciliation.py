"""Reconciliation: no order stays open without a gateway order behind it.

At start-up a replica settles the orders it left open itself; when a replica is gone for good
(see ReplicaRegistry), a live one settles that replica's orders against its own gateways.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.manager import AsyncDatabaseManager
from backend.models.enums import OrderStatus
from backend.models.order import Order
from backend.schemas.orders import OrderRead
from backend.services.orders import repository, state_machine
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.ports import MarketAccess

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
    answering are answered with the order as it now stands.
    """
    reconciled = await repository.lock_open_orders_of_replica(session, owner)
    rejected = 0
    for order in reconciled:
        known = market.get_order(order.vt_orderid) if order.vt_orderid else None
        if known is None or known.status is OrderStatus.REJECTED:
            state_machine.move(order, OrderStatus.REJECTED, reason=LOST_ON_RESTART)
            rejected += 1
            continue
        events.remember(known.vt_orderid, order.client_order_id)
        order.replica = replica
        if known.status is OrderStatus.CANCELLED:
            state_machine.move(order, OrderStatus.CANCELLED)
    Order.stamp_modified(session, reconciled)  # the keys' answers carry the stored time
    await session.flush()
    await repository.answer_abandoned_keys(
        session, [OrderRead.model_validate(o) for o in reconciled]
    )
    if rejected:
        logger.warning("orders_reconciled", owner=owner, rejected=rejected, reason=LOST_ON_RESTART)
    return rejected
