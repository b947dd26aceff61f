"""Strategy: a user's configured instance of a registered strategy class on one symbol."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin
from backend.core.database.types import string_enum
from backend.models.enums import StrategyStatus


class Strategy(TimestampMixin, Base):
    """`status` is the desired state: the engine of the replica holding its lease runs it."""

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

    def __repr__(self) -> str:
        return f"Strategy(id={self.id!r}, name={self.name!r}, status={self.status.value!r})"
