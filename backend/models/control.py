"""Idempotency keys and the admin-editable risk settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin, utcnow
from backend.models.order import BigId


class IdempotencyKey(Base):
    """The first answer to a request made with an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # The order the first request created; start-up reconciliation answers the key from it
    # when that request died before it could answer.
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RiskSettings(TimestampMixin, Base):
    """The single row of pre-trade limits and the kill switch, shared by every replica."""

    __tablename__ = "risk_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    max_order_quantity: Mapped[Decimal]
    max_order_notional: Mapped[Decimal]
    max_open_orders: Mapped[int]
    max_orders_per_second: Mapped[int]
    price_band_pct: Mapped[Decimal]
    trading_halted: Mapped[bool] = mapped_column(default=False)
    halted_reason: Mapped[str | None] = mapped_column(String(255))
