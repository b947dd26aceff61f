"""Positions and the paper account, kept consistent with the trades."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin
from backend.core.database.types import CostBasis


class Position(TimestampMixin, Base):
    """Net position of a user in one contract; quantity is signed (short < 0)."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("user_id", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    # The average entry price at 8 places, for people; PnL is computed from `cost`.
    avg_price: Mapped[Decimal] = mapped_column(default=Decimal(0))
    realized_pnl: Mapped[Decimal] = mapped_column(default=Decimal(0))
    # Signed cost basis, quantity x entry price summed over the open quantity (migration 0018).
    cost: Mapped[Decimal] = mapped_column(CostBasis(), default=Decimal(0), server_default="0")


class Account(TimestampMixin, Base):
    """A user's paper account: balance moves with realized PnL and commissions."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    currency: Mapped[str] = mapped_column(String(8))
    initial_balance: Mapped[Decimal]
    realized_pnl: Mapped[Decimal] = mapped_column(default=Decimal(0))
    commission: Mapped[Decimal] = mapped_column(default=Decimal(0))

    @property
    def balance(self) -> Decimal:
        """Initial balance plus realized PnL less commissions."""
        return self.initial_balance + self.realized_pnl - self.commission


class AccountDay(Base):
    """A user's paper account over one UTC day, kept as fills are booked (migration 0018).

    Each fill adds its realized PnL, commission and count to the row of its trade's UTC date,
    and leaves the account's balance after it as that day's closing balance; history reads
    these rows, never the trades. A day without fills has no row (the balance carried over).
    """

    __tablename__ = "account_days"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    realized_pnl: Mapped[Decimal] = mapped_column(default=Decimal(0))
    commission: Mapped[Decimal] = mapped_column(default=Decimal(0))
    trade_count: Mapped[int] = mapped_column(BigInteger, default=0)
    balance: Mapped[Decimal]
