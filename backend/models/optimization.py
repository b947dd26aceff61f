"""Optimization: one parameter sweep of a strategy class over bars, its inputs and best runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin
from backend.models.enums import OptimizationStatus


class Optimization(TimestampMixin, Base):
    """Everything a run needs is stored, so a queued or interrupted one can run again.

    `request` holds the sweep (fixed parameters, ranges, method and its settings, how many runs
    to keep) and, for stored bars (`source` "history"), the symbol's interval and [start, end);
    uploaded bars are kept gzip-compressed in `bars_csv` (loaded only when asked for). `total`
    and `done` count combinations; `runs` holds the best `top` of them, best first, each with
    its parameters and full statistics.
    """

    __tablename__ = "optimizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[OptimizationStatus] = mapped_column(
        Enum(
            OptimizationStatus,
            name="optimization_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            validate_strings=True,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        default=OptimizationStatus.QUEUED,
        index=True,
    )
    class_name: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    bar_count: Mapped[int] = mapped_column(Integer, default=0)
    bars_csv: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    evaluated: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    replica: Mapped[str] = mapped_column(String(64))
    # Claims so far: each run claims the row by raising it by one, and writes its progress and
    # result only while it is still its own, so a run overtaken by another ends with nothing.
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The procrastinate job that runs it (PostgreSQL engine), to cancel or abort it with it.
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Optimization(id={self.id!r}, status={self.status.value!r})"
