"""Positions and the paper account, kept consistent with the trades."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin


class Position(TimestampMixin, Base):
    """Net position of a user in one contract; quantity is signed (short < 0)."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("user_id", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    avg_price: Mapped[Decimal] = mapped_column(default=Decimal(0))
    realized_pnl: Mapped[Decimal] = mapped_column(default=Decimal(0))


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
