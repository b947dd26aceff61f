"""Strategy: a user's configured instance of a registered strategy class on one symbol."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin
from backend.core.database.types import string_enum
from backend.models.enums import StrategyStatus


class Strategy(TimestampMixin, Base):
    """`status` is the desired state: the engine of the replica holding its lease runs it.

    `ticks_processed`, `orders_placed`, `position` and `last_update` are what its runner last
    reported (every reconcile pass and when it stops): the status of a stopped strategy, on
    any replica, and where the counters resume from when it runs again.
    """

    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    class_name: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[StrategyStatus] = mapped_column(
        string_enum(StrategyStatus, "strategy_status"),
        default=StrategyStatus.STOPPED,
        index=True,
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    ticks_processed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    orders_placed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    position: Mapped[Decimal | None]
    last_update: Mapped[datetime | None]
    # A vnpy CTA strategy's synced variables (`pos` and its `variables`), restored at start.
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"Strategy(id={self.id!r}, name={self.name!r}, status={self.status.value!r})"
