"""Orders and their fills."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, Numeric, String, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin, utcnow
from backend.core.database.types import string_enum
from backend.models.enums import OrderSide, OrderStatus, OrderType, TimeInForce

# BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _reference_as_client_ref(context: DefaultExecutionContext) -> Any:
    """An order the client named no id for is known to it by RedFire's reference."""
    return context.get_current_parameters()["client_order_id"]  # type: ignore[no-untyped-call]


class Order(TimestampMixin, Base):
    """An order as RedFire knows it; the gateway's view arrives as events."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_user_id_status", "user_id", "status"),
        Index("ix_orders_user_id_id", "user_id", "id"),
        Index("uq_orders_user_id_client_ref", "user_id", "client_ref", unique=True),
        Index("uq_orders_replaces_order_id", "replaces_order_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[OrderSide] = mapped_column(string_enum(OrderSide, "order_side"))
    order_type: Mapped[OrderType] = mapped_column(string_enum(OrderType, "order_type"))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal | None]
    # A stop with a limit price is a stop-limit: touched at `price`, it rests as a limit here.
    limit_price: Mapped[Decimal | None]
    time_in_force: Mapped[TimeInForce] = mapped_column(
        string_enum(TimeInForce, "time_in_force"), default=TimeInForce.GTC
    )
    status: Mapped[OrderStatus] = mapped_column(
        string_enum(OrderStatus, "order_status"), default=OrderStatus.PENDING
    )
    filled_quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    avg_fill_price: Mapped[Decimal | None]
    reject_reason: Mapped[str | None] = mapped_column(String(255))
    # A risk rejection's rule, limit and the order's value (strings); null otherwise.
    reject_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # RedFire's own reference, unique across users: what the gateway's reports carry back.
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The client's id for the order (the API's `client_order_id`): chosen by the client, else
    # the reference above; unique per user (migration 0017).
    client_ref: Mapped[str] = mapped_column(String(64), default=_reference_as_client_ref)
    # The order this one replaced (PATCH /orders/{id}: cancel-replace); each is replaced once.
    replaces_order_id: Mapped[int | None] = mapped_column(BigId)
    vt_orderid: Mapped[str | None] = mapped_column(String(128), unique=True)
    gateway: Mapped[str] = mapped_column(String(64))
    # The replica whose gateway connection received the order (reconciled by it on restart).
    replica: Mapped[str] = mapped_column(String(64))
    strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("strategies.id", ondelete="SET NULL"), index=True
    )
    # The price its remaining quantity holds buying power at while open, fixed when it was
    # booked: the limit price, the last price for a market order, the worse of stop and last
    # price for a stop (services/orders/risk.py valuation_price).
    hold_price: Mapped[Decimal | None]

    @property
    def remaining_quantity(self) -> Decimal:
        """Quantity not yet filled."""
        return self.quantity - self.filled_quantity


class OpenOrderCount(Base):
    """How many of a user's orders are open (pending, submitted, partially filled).

    Kept by database triggers on `orders` (migration 0006), whatever statement changes an
    order, so the booking of new orders reads one row instead of counting them; its row lock
    is also what makes one user's bookings take turns across replicas.
    """

    __tablename__ = "open_order_counts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    open_orders: Mapped[int] = mapped_column(BigInteger, default=0)
    # Raised by every booking that locks the row: a booking that reads its user's books in the
    # statement that locks it knows whether another booking committed before it got the lock.
    bookings: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class OpenOrderExposure(Base):
    """A user's open orders on one side of one contract: remaining quantity and its value.

    `notional` is the sum of remaining quantity x hold price (the contract size is applied
    when it is read). Kept by PostgreSQL triggers on `orders` (migration 0009), so booking
    reads a row per contract and side instead of the open orders; exact, unbounded NUMERIC.
    On SQLite (one process, decimals stored as text) the orders are summed in Python instead,
    and this table stays empty.
    """

    __tablename__ = "open_order_exposure"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    side: Mapped[OrderSide] = mapped_column(string_enum(OrderSide, "order_side"), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(asdecimal=True))
    notional: Mapped[Decimal] = mapped_column(Numeric(asdecimal=True))


class Trade(Base):
    """One fill, recorded once per gateway trade id."""

    __tablename__ = "trades"
    __table_args__ = (Index("ix_trades_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[OrderSide] = mapped_column(string_enum(OrderSide, "order_side"))
    price: Mapped[Decimal]
    quantity: Mapped[Decimal]
    commission: Mapped[Decimal]
    vt_tradeid: Mapped[str] = mapped_column(String(128), unique=True)
    trade_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
