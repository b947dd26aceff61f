"""Start-up reconciliation of a large book: settled in bulk, every order, every count."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.models.control import IdempotencyKey
from backend.models.enums import OrderStatus
from backend.models.order import OpenOrderCount, OpenOrderExposure
from backend.services.orders.reconciliation import LOST_ON_RESTART, reconcile_open_orders
from backend.services.orders.repository import KEYS, ORDERS
from backend.services.orders.repository.settlement import SETTLE_CHUNK
from tests.services.orders.rows import user_with_orders

RESTING = 2 * SETTLE_CHUNK + 7  # more than two statements' worth


async def _resting_book(container: AppContainer, replica: str) -> tuple[int, list[int]]:
    """A user with RESTING open orders a crashed `replica` owned (the gateway forgot them)."""
    now = utcnow()
    statuses = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
    user_id, _ = await user_with_orders(container, replica)
    async with container.database.session() as session:
        rows = [
            {
                "user_id": user_id,
                "symbol": "IF2412.CFFEX",
                "side": "BUY" if index % 2 else "SELL",
                "order_type": "limit",
                "quantity": Decimal(2),
                "price": Decimal("3400.2"),
                "status": statuses[index % 3],
                "filled_quantity": Decimal(
                    1 if statuses[index % 3] is OrderStatus.PARTIALLY_FILLED else 0
                ),
                "client_order_id": f"{replica}-{index}",
                "vt_orderid": None if index % 3 == 0 else f"PAPER.{replica}-{index}",
                "gateway": "PAPER",
                "replica": replica,
                "created_at": now,
                "updated_at": now,
            }
            for index in range(RESTING)
        ]
        ids = list((await session.execute(insert(ORDERS).returning(ORDERS.c.id), rows)).scalars())
        # The request that placed the last one died before it could answer its key.
        session.add(
            IdempotencyKey(
                user_id=user_id,
                key="died-in-flight",
                request_hash="fingerprint",
                order_id=ids[-1],
                expires_at=now + timedelta(hours=1),
            )
        )
    return user_id, ids


async def test_a_restart_rejects_every_order_its_gateway_forgot_and_answers_dead_keys(
    container: AppContainer,
) -> None:
    replica = f"restarted-{uuid.uuid4().hex[:6]}"
    user_id, ids = await _resting_book(container, replica)
    trading = container.trading

    rejected = await reconcile_open_orders(
        container.database, trading.market, trading.events, replica=replica
    )

    assert rejected == RESTING
    async with container.database.session() as session:
        settled = await session.execute(
            select(ORDERS.c.status, ORDERS.c.reject_reason, func.count())
            .where(ORDERS.c.user_id == user_id)
            .group_by(ORDERS.c.status, ORDERS.c.reject_reason)
        )
        assert settled.all() == [(OrderStatus.REJECTED, LOST_ON_RESTART, RESTING)]
        # The open-order count and the held exposure follow the orders (the triggers).
        count = await session.scalar(
            select(OpenOrderCount.open_orders).where(OpenOrderCount.user_id == user_id)
        )
        assert count == 0
        held = await session.execute(
            select(OpenOrderExposure.quantity, OpenOrderExposure.notional).where(
                OpenOrderExposure.user_id == user_id
            )
        )
        assert {(quantity, notional) for quantity, notional in held} <= {(0, 0)}
        answer = (
            await session.execute(
                select(KEYS.c.response_status, KEYS.c.response_body).where(
                    KEYS.c.user_id == user_id
                )
            )
        ).one()
    assert answer.response_status == 201
    assert (answer.response_body["id"], answer.response_body["status"]) == (ids[-1], "rejected")
    assert answer.response_body["reject_reason"] == LOST_ON_RESTART


async def test_a_second_reconciliation_finds_nothing_left_to_settle(
    container: AppContainer,
) -> None:
    replica = f"restarted-{uuid.uuid4().hex[:6]}"
    await _resting_book(container, replica)
    trading = container.trading
    await reconcile_open_orders(container.database, trading.market, trading.events, replica=replica)

    again = await reconcile_open_orders(
        container.database, trading.market, trading.events, replica=replica
    )

    assert again == 0
