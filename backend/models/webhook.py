"""Webhooks: alerts from charting tools turned into orders, and every delivery's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, utcnow
from backend.models.order import BigId


class Webhook(Base):
    """A user's webhook: alerts posted to `/api/v1/signals/{public_id}` become orders.

    The shared secret is never stored: it is derived from the server's pepper, `public_id` and
    `salt` (core/security/keyed_hash.py), so only the server can recompute it. With `auth`
    `secret` the alert carries it in its `secret` field; with `signature` the sender signs
    the raw body with it (HMAC-SHA256, `X-Signature-256`). `strategy_id` attributes the
    orders to one of the owner's strategies.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(16))
    strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("strategies.id", ondelete="SET NULL")
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One authenticated delivery to a webhook and what came of it."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    sender_id: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # placed, rejected (by the risk checks), duplicate, invalid or refused
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(String(64))
    alert: Mapped[dict[str, Any] | None] = mapped_column(JSON)
