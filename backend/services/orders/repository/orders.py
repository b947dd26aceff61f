"""Order statements, for both databases: written once each, the PostgreSQL variant chosen here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Row, bindparam, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.arrays import arrays, takes_arrays
from backend.core.database.base import utcnow
from backend.core.database.driver import DriverQuery
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.enums import OrderSide, OrderStatus
from backend.models.order import Order, Trade
from backend.services.orders import state_machine
from backend.services.orders.repository import array_statements
from backend.services.orders.repository.keys import link_orders
from backend.services.orders.repository.tables import ORDERS, NewOrder, StoredOrder

# Every column back, so the answer is the row as stored (decimals at the column's scale).
INSERT_ORDERS = insert(ORDERS).returning(*ORDERS.c, sort_by_parameter_order=True)
SUBMITTED_FROM = state_machine.sources_of(OrderStatus.SUBMITTED)
REJECTED_FROM = state_machine.sources_of(OrderStatus.REJECTED)
# Built and compiled once: the read path of GET /orders/{id}.
OWNED_ORDER = DriverQuery(
    select(ORDERS).where(
        ORDERS.c.id == bindparam("order_id"), ORDERS.c.user_id == bindparam("user_id")
    )
)


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
            "status": order.status,
            "filled_quantity": Decimal(0),
            "reject_reason": order.reject_reason,
            "client_order_id": order.client_order_id,
            "gateway": gateway,
            "replica": replica,
            "strategy_id": order.strategy_id,
            "hold_price": order.hold_price,
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
            status=[order.status.value for order in orders],
            reject_reason=[order.reject_reason for order in orders],
            client_order_id=[order.client_order_id for order in orders],
            strategy_id=[order.strategy_id for order in orders],
            hold_price=[order.hold_price for order in orders],
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


async def mark_submitted(
    session: AsyncSession, routed: dict[int, str]
) -> tuple[set[int], dict[int, StoredOrder]]:
    """pending -> submitted with each order's vt_orderid (order id -> vt_orderid), guarded.

    Returns the ids it moved, and every routed order as it now stands; one the gateway's
    events moved on meanwhile keeps its status and gets its vt_orderid.
    """
    if not routed:
        return set(), {}
    now = utcnow()
    if takes_arrays(session):
        parameters = {
            **arrays("routed", id=list(routed), vt_orderid=list(routed.values())),
            "now": now,
            "sources": [status.value for status in SUBMITTED_FROM],
        }
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
        rows.update(await _current(session, list(overtaken)))
    return moved, rows


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
    rows.update(await _current(session, [order_id for order_id in failed if order_id not in rows]))
    return refused, rows


async def _current(session: AsyncSession, order_ids: list[int]) -> dict[int, StoredOrder]:
    """Orders something else moved on meanwhile, as they stand now."""
    if not order_ids:
        return {}
    current = await session.execute(select(ORDERS).where(ORDERS.c.id.in_(order_ids)))
    return {row.id: row._asdict() for row in current}


async def find_owned(
    database: AsyncDatabaseManager, *, user_id: int, order_id: int
) -> StoredOrder | None:
    """One of the user's orders as stored, or None (anyone else's as well), in one SELECT."""
    return await OWNED_ORDER.first(database, {"order_id": order_id, "user_id": user_id})


async def owned(session: AsyncSession, *, user_id: int, order_id: int) -> Order | None:
    """One of the user's orders, to change in `session`, or None."""
    statement = select(Order).where(Order.id == order_id, Order.user_id == user_id)
    return await session.scalar(statement)


async def open_orders_of_user(
    session: AsyncSession, user_id: int
) -> Sequence[Row[int, str | None, str]]:
    """(id, vt_orderid, replica) of each of the user's open orders."""
    statement = select(Order.id, Order.vt_orderid, Order.replica).where(
        Order.user_id == user_id, Order.status.in_(OrderStatus.open_statuses())
    )
    return (await session.execute(statement)).all()


async def lock_open_orders_of_replica(session: AsyncSession, replica: str) -> list[Order]:
    """The open orders a replica owns, locked until the caller's transaction ends."""
    statement = (
        select(Order)
        .where(Order.replica == replica, Order.status.in_(OrderStatus.open_statuses()))
        .with_for_update()
    )
    return list((await session.scalars(statement)).all())


async def lock_orders_by_reference(
    session: AsyncSession, references: Iterable[str], vt_orderids: Iterable[str]
) -> list[Order]:
    """Orders by client order id or gateway order id, locked until the caller's commit."""
    statement = (
        select(Order)
        .where(
            or_(
                Order.client_order_id.in_(list(references)), Order.vt_orderid.in_(list(vt_orderids))
            )
        )
        .with_for_update()
    )
    return list((await session.scalars(statement)).all())


async def list_orders(
    session: AsyncSession,
    user_id: int,
    *,
    statuses: Sequence[OrderStatus] | None,
    symbol: str | None,
    side: OrderSide | None,
    limit: int,
    offset: int,
) -> tuple[list[Order], int]:
    """A page of the user's orders (in any of `statuses`), newest first, and how many match."""
    statement = select(Order).where(Order.user_id == user_id)
    if statuses:
        statement = statement.where(Order.status.in_(statuses))
    if symbol is not None:
        statement = statement.where(Order.symbol == symbol)
    if side is not None:
        statement = statement.where(Order.side == side)
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    page = statement.order_by(Order.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(page)).all()), int(total or 0)


async def open_orders_per_replica(session: AsyncSession) -> dict[str, int]:
    """How many open orders each replica owns (replicas owning none are left out)."""
    counted = select(Order.replica, func.count()).where(
        Order.status.in_(OrderStatus.open_statuses())
    )
    return {
        replica: int(count)
        for replica, count in await session.execute(counted.group_by(Order.replica))
    }


async def open_order_holds(
    session: AsyncSession, user_ids: set[int]
) -> Sequence[Row[int, str, OrderSide, Decimal, Decimal, Decimal | None, Decimal | None]]:
    """(user_id, symbol, side, quantity, filled_quantity, hold_price, price) of each open
    order of these users: what SQLite sums where PostgreSQL's triggers keep the exposure."""
    statement = select(
        Order.user_id,
        Order.symbol,
        Order.side,
        Order.quantity,
        Order.filled_quantity,
        Order.hold_price,
        Order.price,
    ).where(Order.user_id.in_(user_ids), Order.status.in_(OrderStatus.open_statuses()))
    return (await session.execute(statement)).all()


async def strategy_fills(
    session: AsyncSession, *, user_id: int, strategy_id: int, symbol: str
) -> Sequence[Row[OrderSide, Decimal]]:
    """(side, quantity) of each fill of the strategy's orders in `symbol`."""
    statement = (
        select(Trade.side, Trade.quantity)
        .join(Order, Order.id == Trade.order_id)
        .where(Order.user_id == user_id, Order.strategy_id == strategy_id, Trade.symbol == symbol)
    )
    return (await session.execute(statement)).all()
