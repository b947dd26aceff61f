"""Backtest: one replay of a registered strategy class over uploaded bars, and its results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.database.base import Base, TimestampMixin
from backend.models.enums import BacktestStatus


class Backtest(TimestampMixin, Base):
    """On the local engine the bars are not stored (only their count): they live in memory for
    the run; a worker's run keeps them (see `bars_csv`, `request`).

    `settings` holds the cost model (capital, rate, slippage, size, pricetick, ...) as decimal
    strings; `statistics`, `trades`, `daily` and the equity chart (`equity_png`, loaded only
    when asked for) are filled in when the run finishes. `replica` names the process running
    it, so a restart fails only its own interrupted runs.
    """

    __tablename__ = "backtests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[BacktestStatus] = mapped_column(
        Enum(
            BacktestStatus,
            name="backtest_status",
            native_enum=False,
            create_constraint=True,
            length=16,
            validate_strings=True,
            values_callable=lambda statuses: [status.value for status in statuses],
        ),
        default=BacktestStatus.QUEUED,
        index=True,
    )
    class_name: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    bar_count: Mapped[int] = mapped_column(Integer, default=0)
    trade_count: Mapped[int] = mapped_column(Integer, default=0)
    statistics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trades: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    daily: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    equity_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    error: Mapped[str | None] = mapped_column(Text)
    replica: Mapped[str] = mapped_column(String(64))
    # Run by a worker (procrastinate engine) the inputs are kept: the upload gzipped, or the
    # stored range (interval, start, end) in `request`; `attempt` and `job_id` as on
    # Optimization (a run writes only under its own claim).
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bars_csv: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"Backtest(id={self.id!r}, status={self.status.value!r})"
