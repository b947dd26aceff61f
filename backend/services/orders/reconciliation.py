"""Start-up reconciliation: no order stays open without a gateway order behind it."""

from __future__ import annotations

import structlog
from sqlalchemy import select

from backend.core.database.manager import AsyncDatabaseManager
from backend.models.enums import OrderStatus
from backend.models.order import Order
from backend.schemas.orders import OrderRead
from backend.services.orders import state_machine
from backend.services.orders.events import OrderEventProcessor
from backend.services.orders.idempotency import answer_abandoned_keys
from backend.services.orders.ports import MarketAccess
from backend.services.orders.risk import OPEN_STATUSES

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
    rejected = 0
    async with database.session() as session:
        statement = (
            select(Order)
            .where(Order.replica == replica, Order.status.in_(OPEN_STATUSES))
            .with_for_update()
        )
        settled: list[Order] = []
        for order in (await session.scalars(statement)).all():
            known = market.get_order(order.vt_orderid) if order.vt_orderid else None
            if known is None or known.status is OrderStatus.REJECTED:
                state_machine.move(order, OrderStatus.REJECTED, reason=LOST_ON_RESTART)
                settled.append(order)
                rejected += 1
                continue
            # Still known to the gateway: its events keep this order moving.
            events.remember(known.vt_orderid, order.client_order_id)
            if known.status is OrderStatus.CANCELLED:
                state_machine.move(order, OrderStatus.CANCELLED)
                settled.append(order)
        await session.flush()
        await answer_abandoned_keys(session, [OrderRead.model_validate(o) for o in settled])
    if rejected:
        logger.warning("orders_reconciled", rejected=rejected, reason=LOST_ON_RESTART)
    return rejected
