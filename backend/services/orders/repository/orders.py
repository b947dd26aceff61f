"""Order writes, for both databases: written once each, the PostgreSQL variant chosen here."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.arrays import arrays, takes_arrays
from backend.core.database.base import utcnow
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.enums import OrderStatus
from backend.services.orders import state_machine
from backend.services.orders.repository import array_statements
from backend.services.orders.repository.keys import link_orders, store_responses
from backend.services.orders.repository.tables import ORDERS, NewOrder, StoredOrder

# Every column back, so the answer is the row as stored (decimals at the column's scale).
INSERT_ORDERS = insert(ORDERS).returning(*ORDERS.c, sort_by_parameter_order=True)
SUBMITTED_FROM = state_machine.sources_of(OrderStatus.SUBMITTED)
REJECTED_FROM = state_machine.sources_of(OrderStatus.REJECTED)


async def insert_orders(
    session: AsyncSession, orders: list[NewOrder], *, gateway: str, replica: str, now: datetime
) -> list[StoredOrder]:
    """Store the orders and point their Idempotency-Keys at them; the rows, in `orders` order."""
    if takes_arrays(session):
        return await _insert_arrays(session, orders, gateway=gateway, replica=replica, now=now)
    rows = [
        {
            "user_id": order.user_id,
            "symbol": order.symbol,
            "side": order.side,
            "order_type": order.order_type,
            "quantity": order.quantity,
            "price": order.price,
            "limit_price": order.limit_price,
            "time_in_force": order.time_in_force,
            "status": order.status,
            "filled_quantity": Decimal(0),
            "reject_reason": order.reject_reason,
            "reject_detail": order.reject_detail,
            "client_order_id": order.client_order_id,
            "client_ref": order.client_ref,
            "gateway": gateway,
            "replica": replica,
            "strategy_id": order.strategy_id,
            "hold_price": order.hold_price,
            "replaces_order_id": order.replaces_order_id,
            "created_at": now,
            "updated_at": now,
        }
        for order in orders
    ]
    stored = [row._asdict() for row in await session.execute(INSERT_ORDERS, rows)]
    links = [
        (order.user_id, order.key, row["id"])
        for order, row in zip(orders, stored, strict=True)
        if order.key is not None
    ]
    if links:
        await link_orders(session, links)
    return stored


async def _insert_arrays(
    session: AsyncSession, orders: list[NewOrder], *, gateway: str, replica: str, now: datetime
) -> list[StoredOrder]:
    """PostgreSQL: the batch as one array per column, keys linked by the same statement."""
    keyed = [order for order in orders if order.key is not None]
    parameters = {
        **arrays(
            "new_orders",
            user_id=[order.user_id for order in orders],
            symbol=[order.symbol for order in orders],
            side=[order.side.value for order in orders],
            order_type=[order.order_type.value for order in orders],
            quantity=[order.quantity for order in orders],
            price=[order.price for order in orders],
            limit_price=[order.limit_price for order in orders],
            time_in_force=[order.time_in_force.value for order in orders],
            status=[order.status.value for order in orders],
            reject_reason=[order.reject_reason for order in orders],
            reject_detail=[_json_text(order.reject_detail) for order in orders],
            client_order_id=[order.client_order_id for order in orders],
            client_ref=[order.client_ref for order in orders],
            strategy_id=[order.strategy_id for order in orders],
            hold_price=[order.hold_price for order in orders],
            replaces_order_id=[order.replaces_order_id for order in orders],
        ),
        **arrays(
            "linked",
            client_order_id=[order.client_order_id for order in keyed],
            user_id=[order.user_id for order in keyed],
            key=[order.key for order in keyed],
        ),
        "filled_quantity": Decimal(0),
        "gateway": gateway,
        "replica": replica,
        "now": now,
    }
    inserted = await array_statements.INSERT_AND_LINK_ORDERS.fetch(session, parameters)
    stored = {row["client_order_id"]: row for row in inserted}
    return [stored[order.client_order_id] for order in orders]


def _json_text(value: dict[str, str | None] | None) -> str | None:
    """A JSON value as the text PostgreSQL parses into the json column (array_statements.py)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


async def submit_and_answer(
    database: AsyncDatabaseManager,
    routed: dict[int, str],
    answers: list[tuple[int, str, int, str, int | None]],
    *,
    now: datetime,
) -> set[int]:
    """mark_submitted and store_responses at once, committed: the routed orders (order id ->
    vt_orderid) moved to submitted at `now`, and each (user, key, status, body, order id)
    answer stored if its order is one it moved, or its order id is None (a final order).

    On PostgreSQL one statement, which commits on its own: no session, no BEGIN or COMMIT.
    Returns the ids it moved; an order something else moved on meanwhile is left as it is,
    its key unanswered.
    """
    if not routed and not answers:
        return set()
    if database.uses_asyncpg:
        parameters = {
            **_submission_parameters(routed, now),
            **arrays(
                "answers",
                user_id=[answer[0] for answer in answers],
                key=[answer[1] for answer in answers],
                status=[answer[2] for answer in answers],
                body=[answer[3] for answer in answers],
                order_id=[answer[4] for answer in answers],
            ),
        }
        rows = await array_statements.SUBMIT_AND_ANSWER.fetch_alone(database, parameters)
        return {row["id"] for row in rows}
    async with database.session() as session:
        moved, _ = await mark_submitted(session, routed, now=now)
        kept = [answer[:4] for answer in answers if answer[4] is None or answer[4] in moved]
        if kept:
            await store_responses(session, kept)
    return moved


async def mark_submitted(
    session: AsyncSession, routed: dict[int, str], *, now: datetime | None = None
) -> tuple[set[int], dict[int, StoredOrder]]:
    """pending -> submitted with each order's vt_orderid (order id -> vt_orderid), guarded,
    at `now` (default: now).

    Returns the ids it moved, and every routed order as it now stands; one the gateway's
    events moved on meanwhile keeps its status and gets its vt_orderid.
    """
    if not routed:
        return set(), {}
    now = now or utcnow()
    if takes_arrays(session):
        parameters = _submission_parameters(routed, now)
        moved_rows = await array_statements.SUBMIT_ROUTED.fetch(session, parameters)
    else:
        statement = (
            update(ORDERS)
            .where(ORDERS.c.id.in_(routed), ORDERS.c.status.in_(SUBMITTED_FROM))
            .values(
                status=OrderStatus.SUBMITTED,
                vt_orderid=case(routed, value=ORDERS.c.id),
                updated_at=now,
            )
            .returning(*ORDERS.c)
        )
        moved_rows = [row._asdict() for row in await session.execute(statement)]
    rows = {row["id"]: row for row in moved_rows}
    overtaken = {order_id: vt for order_id, vt in routed.items() if order_id not in rows}
    moved = set(rows)
    if overtaken:
        await session.execute(
            update(ORDERS)
            .where(ORDERS.c.id.in_(overtaken), ORDERS.c.vt_orderid.is_(None))
            .values(vt_orderid=case(overtaken, value=ORDERS.c.id))
        )
        rows.update(await current_orders(session, list(overtaken)))
    return moved, rows


def _submission_parameters(routed: dict[int, str], now: datetime) -> dict[str, Any]:
    """SUBMIT_ROUTED's parameters (array_statements.py): the routed orders, guarded."""
    return {
        **arrays("routed", id=list(routed), vt_orderid=list(routed.values())),
        "now": now,
        "sources": [status.value for status in SUBMITTED_FROM],
    }


async def mark_rejected(
    session: AsyncSession, failed: dict[int, str]
) -> tuple[set[int], dict[int, StoredOrder]]:
    """Orders the gateway refused to take (order id -> reason): rejected with the reason.

    Returns the ids it moved, and every such order as it now stands (one already final
    stays as it is).
    """
    rows: dict[int, StoredOrder] = {}
    for order_id, reason in failed.items():
        statement = (
            update(ORDERS)
            .where(ORDERS.c.id == order_id, ORDERS.c.status.in_(REJECTED_FROM))
            .values(status=OrderStatus.REJECTED, reject_reason=reason, updated_at=utcnow())
            .returning(*ORDERS.c)
        )
        rows.update((row.id, row._asdict()) for row in await session.execute(statement))
    refused = set(rows)
    rows.update(
        await current_orders(session, [order_id for order_id in failed if order_id not in rows])
    )
    return refused, rows


async def current_orders(session: AsyncSession, order_ids: list[int]) -> dict[int, StoredOrder]:
    """These orders as they stand now (one something else moved on meanwhile, say)."""
    if not order_ids:
        return {}
    current = await session.execute(select(ORDERS).where(ORDERS.c.id.in_(order_ids)))
    return {row.id: row._asdict() for row in current}
