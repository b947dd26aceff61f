"""ApiKey: a long-lived, scoped credential a program uses instead of a login."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, utcnow


class ApiKey(Base):
    """A user's API key: `public_id` finds it, `secret_hash` (HMAC-SHA256 with the server's
    pepper) proves it; the secret itself is never stored.

    `granted_role` is the owner's role when the key was made: a key stops working when its
    owner is deactivated or demoted below it.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    allowed_networks: Mapped[list[str] | None] = mapped_column(JSON)
    granted_role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
