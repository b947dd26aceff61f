"""Users and orders written straight into the database (orders in given statuses), and an
order to place."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert

from backend.app.container import AppContainer
from backend.core.database.base import utcnow
from backend.models.enums import OrderSide, OrderStatus, OrderType, UserRole
from backend.models.user import User
from backend.schemas.orders import OrderCreate
from backend.services.orders.repository import ORDERS

# One lot of IF2412 bought at a limit inside the paper market's price band.
LIMIT_BUY = OrderCreate(
    symbol="IF2412.CFFEX",
    side=OrderSide.BUY,
    order_type=OrderType.LIMIT,
    quantity=Decimal(1),
    price=Decimal("3400.2"),
)


async def new_user(
    container: AppContainer, name: str, role: UserRole = UserRole.TRADER, *, active: bool = True
) -> int:
    """A new user's id."""
    async with container.database.session() as session:
        user = User(
            username=name,
            email=f"{name}@example.com",
            hashed_password="x",
            role=role,
            is_active=active,
        )
        session.add(user)
        await session.flush()
        return user.id


async def user_with_orders(
    container: AppContainer, username: str, *statuses: OrderStatus
) -> tuple[int, list[int]]:
    """A new user and one IF2412 limit order per status (filled ones fully); their ids."""
    now = utcnow()
    async with container.database.session() as session:
        user = User(username=username, email=f"{username}@example.com", hashed_password="x")
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
                "client_order_id": f"{username}-{index}",
                "gateway": "PAPER",
                "replica": "test",
                "created_at": now,
                "updated_at": now,
            }
            for index, status in enumerate(statuses)
        ]
        if not rows:
            return user.id, []
        result = await session.execute(insert(ORDERS).returning(ORDERS.c.id), rows)
        return user.id, list(result.scalars())
