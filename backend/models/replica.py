"""Replicas: every running RedFire process, as its heartbeats last showed it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base


class Replica(Base):
    """One process by its `REPLICA_ID`: alive while `heartbeat_at` keeps moving."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
