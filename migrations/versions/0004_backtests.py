"""backtests: strategy backtests over uploaded bars, with their statistics and trades.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.core.database.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = ("queued", "running", "finished", "failed")


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name,
        backend.core.database.types.UTCDateTime(timezone=True),
        server_default=sa.text("(CURRENT_TIMESTAMP)"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "backtests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*_STATUSES, name="backtest_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("class_name", sa.String(length=100), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("bar_count", sa.Integer(), nullable=False),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=True),
        sa.Column("trades", sa.JSON(), nullable=True),
        sa.Column("daily", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("replica", sa.String(length=64), nullable=False),
        sa.Column(
            "started_at", backend.core.database.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at", backend.core.database.types.UTCDateTime(timezone=True), nullable=True
        ),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished', 'failed')",
            name=op.f("ck_backtests_backtest_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_backtests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtests")),
    )
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.create_index(batch_op.f("ix_backtests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_backtests_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.drop_index(batch_op.f("ix_backtests_user_id"))
        batch_op.drop_index(batch_op.f("ix_backtests_status"))
    op.drop_table("backtests")
