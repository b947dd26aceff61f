"""market_bars and market_ticks: market history, partitioned by month on PostgreSQL.

The tables are created partitioned (PARTITION BY RANGE (datetime)) and empty of partitions:
services/market/partitions.py creates each month's partition ahead of time and before any
write that needs one. SQLite ignores the partitioning clause.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, backend.core.database.types.Money(), nullable=False)


def _moment(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, backend.core.database.types.UTCDateTime(timezone=True), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "market_bars",
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("interval", sa.String(length=4), nullable=False),
        _moment("datetime"),
        *(_money(name) for name in ("open", "high", "low", "close")),
        *(_money(name) for name in ("volume", "turnover", "open_interest")),
        _moment("first_tick_at", nullable=True),
        _moment("last_tick_at", nullable=True),
        sa.PrimaryKeyConstraint("symbol", "interval", "datetime", name=op.f("pk_market_bars")),
        postgresql_partition_by="RANGE (datetime)",
    )
    op.create_table(
        "market_ticks",
        sa.Column("symbol", sa.String(length=64), nullable=False),
        _moment("datetime"),
        *(_money(name) for name in ("last_price", "bid_price_1", "ask_price_1")),
        *(_money(name) for name in ("bid_volume_1", "ask_volume_1")),
        *(_money(name) for name in ("volume", "turnover", "open_interest")),
        sa.PrimaryKeyConstraint("symbol", "datetime", name=op.f("pk_market_ticks")),
        postgresql_partition_by="RANGE (datetime)",
    )


def downgrade() -> None:
    # Dropping a partitioned table drops its partitions with it.
    op.drop_table("market_ticks")
    op.drop_table("market_bars")
