"""Revoked sessions and used refresh tokens: the record that outlives the shared cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base


class RevokedSession(Base):
    """A session logged out or found compromised: none of its tokens passes until it expires.

    Redis holds a copy of every live row for the per-request check (services/auth/revocations.py);
    this table is what that copy is rebuilt from when Redis restarts empty.
    """

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    revoked_at: Mapped[datetime]
    # The session's last token expires by then; the row is purged afterwards.
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UsedRefreshToken(Base):
    """A refresh token already exchanged: presented again it is a retry or a leak.

    A retry from the same client within the grace window gets the pair issued at `used_at`
    again; anything else revokes the session.
    """

    __tablename__ = "used_refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime]
    client: Mapped[str] = mapped_column(String(64))  # a digest of the client's address
    expires_at: Mapped[datetime] = mapped_column(index=True)
