"""Order reads (and the row locks taken with them), for both databases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import Row, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.database.driver import DriverQuery
from backend.core.database.manager import AsyncDatabaseManager
from backend.models.enums import OrderSide, OrderStatus
from backend.models.order import Order, Trade
from backend.schemas.common import TimeRange
from backend.services.orders.repository.tables import ORDERS, StoredOrder

# Built and compiled once: the read path of GET /orders/{id}.
OWNED_ORDER = DriverQuery(
    select(ORDERS).where(
        ORDERS.c.id == bindparam("order_id"), ORDERS.c.user_id == bindparam("user_id")
    )
)


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
    created: TimeRange = TimeRange(),
) -> tuple[list[Order], int]:
    """A page of the user's orders (in any of `statuses`, created in `created`), newest
    first, and how many match."""
    statement = select(Order).where(Order.user_id == user_id)
    if created.start is not None:
        statement = statement.where(Order.created_at >= created.start)
    if created.end is not None:
        statement = statement.where(Order.created_at < created.end)
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
